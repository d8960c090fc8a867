//! Key2print lists for the plugin's product panel: the merchant's template formats, project
//! templates and placeholders, read through the WEBAPI list methods and cached per store for a
//! short time (`refresh=true` reads them again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::key2print::key2print_client;
use super::problem::{ApiError, Problem};
use super::stores::{StoreResponse, StoreToken, authorize};
use super::{ApiTags, AppState};
use crate::providers::key2print::{
    Placeholder, Project, ProjectFilter, TemplateFormat, TemplateFormatFilter,
};
use crate::providers::{ErrorKind, ProviderError};

/// Most entries a list answer holds; `truncated` says when Key2print has more.
pub const MAX_LIST_ITEMS: usize = 500;
/// How long a list read stays cached.
pub const LIST_TTL_MS: i64 = 60_000;
/// Most lists cached at once (all stores and filters together).
pub const MAX_CACHED_LISTS: usize = 256;

/// A template format (page size category); sizes in millimetres.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct TemplateFormatItem {
    pub id: String,
    pub name: String,
    pub page_width: Option<u32>,
    pub page_height: Option<u32>,
    pub is_default: bool,
    /// How many project templates Key2print lists in this format.
    pub template_count: u32,
}

/// A project template the merchant made in the editor.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct TemplateItem {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub template_format_id: Option<String>,
    pub template_format_name: Option<String>,
}

/// A placeholder merchants put into templates; a session fills it by `system_name`.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct PlaceholderItem {
    pub id: String,
    pub name: String,
    pub system_name: String,
    #[oai(rename = "type")]
    pub kind: String,
    pub accepted_parameters: Vec<String>,
}

#[derive(Debug, Object)]
pub struct TemplateFormatList {
    pub template_formats: Vec<TemplateFormatItem>,
    /// Key2print holds more than the bridge answers (at most 500).
    pub truncated: bool,
}

#[derive(Debug, Object)]
pub struct TemplateList {
    pub templates: Vec<TemplateItem>,
    /// Key2print holds more than the bridge answers (at most 500).
    pub truncated: bool,
}

#[derive(Debug, Object)]
pub struct PlaceholderList {
    pub placeholders: Vec<PlaceholderItem>,
    /// Key2print holds more than the bridge answers (at most 500).
    pub truncated: bool,
}

/// A list read: its entries and whether Key2print holds more.
type Read<T> = Arc<(Vec<T>, bool)>;

/// A store and, for templates, the template format the list is filtered by.
type ListKey = (String, Option<String>);

/// Recent reads of one kind of list, by (store, filter), bounded in number and age.
struct TypedCache<T> {
    entries: Mutex<HashMap<ListKey, (i64, Read<T>)>>,
}

impl<T> Default for TypedCache<T> {
    fn default() -> Self {
        TypedCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> TypedCache<T> {
    fn get(&self, key: &ListKey, now_ms: i64) -> Option<Read<T>> {
        let e = self.entries.lock().ok()?;
        e.get(key)
            .filter(|(at, _)| now_ms - at < LIST_TTL_MS)
            .map(|(_, c)| c.clone())
    }

    /// Keeps a read; when full, drops expired reads, then the oldest.
    fn put(&self, key: ListKey, value: Read<T>, now_ms: i64) {
        let Ok(mut e) = self.entries.lock() else {
            return;
        };
        if e.len() >= MAX_CACHED_LISTS && !e.contains_key(&key) {
            e.retain(|_, (at, _)| now_ms - *at < LIST_TTL_MS);
            let oldest = e
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest.filter(|_| e.len() >= MAX_CACHED_LISTS) {
                e.remove(&oldest);
            }
        }
        e.insert(key, (now_ms, value));
    }

    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }
}

/// The stores' recent Key2print list reads (each kind at most [`MAX_CACHED_LISTS`]).
#[derive(Default)]
pub struct ListCache {
    formats: TypedCache<TemplateFormatItem>,
    templates: TypedCache<TemplateItem>,
    placeholders: TypedCache<PlaceholderItem>,
}

impl ListCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many lists are cached.
    pub fn len(&self) -> usize {
        self.formats.len() + self.templates.len() + self.placeholders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A 502 naming the list and what went wrong, without Key2print's URL or credentials.
fn list_failed(what: &str, e: &ProviderError) -> ApiError {
    let reason = match &e.kind {
        ErrorKind::Config(_) => "the Key2print section is incomplete".to_owned(),
        ErrorKind::Connect(_) => "could not connect to Key2print".to_owned(),
        ErrorKind::Timeout => "Key2print did not answer in time".to_owned(),
        ErrorKind::Transport(_) => "the connection to Key2print broke".to_owned(),
        ErrorKind::Status { status, .. } | ErrorKind::SignatureSuspect { status, .. } => {
            format!("Key2print answered HTTP {status}")
        }
        ErrorKind::Rejected { status, message } => {
            format!("Key2print refused it (HTTP {status}): {message}")
        }
        ErrorKind::GraphQl { .. } | ErrorKind::Unexpected { .. } => {
            "Key2print answered something the bridge cannot read".to_owned()
        }
    };
    tracing::warn!(call = e.call, error = %reason, "Key2print list failed");
    ApiError::BadGateway(Json(Problem::new(
        "provider_error",
        format!("could not list Key2print {what}: {reason}"),
    )))
}

fn format_item(f: TemplateFormat) -> TemplateFormatItem {
    TemplateFormatItem {
        template_count: u32::try_from(f.projects.len()).unwrap_or(u32::MAX),
        id: f.id,
        name: f.name,
        page_width: f.page_width,
        page_height: f.page_height,
        is_default: f.is_default.or(f.mark_as_default).unwrap_or(false),
    }
}

fn template_item(p: Project) -> TemplateItem {
    let (format_id, format_name) = p
        .template_format
        .map(|f| (Some(f.id), Some(f.name)))
        .unwrap_or_default();
    TemplateItem {
        id: p.id,
        name: p.name,
        description: p.description,
        template_format_id: format_id,
        template_format_name: format_name,
    }
}

fn placeholder_item(p: Placeholder) -> PlaceholderItem {
    PlaceholderItem {
        id: p.id,
        name: p.name,
        system_name: p.system_name,
        kind: p.kind,
        accepted_parameters: p.accepted_parameters,
    }
}

/// The template format filter of a template list: a plain token, or none when empty.
fn format_filter(value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let plain = v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plain {
        return Err(ApiError::bad_request(
            "invalid_template_format_id",
            "template_format_id must be 1-64 characters A-Z, a-z, 0-9, '-' or '_'",
            "template_format_id",
        ));
    }
    Ok(Some(v))
}

/// A cached list, or a fresh read through `read` (kept when it succeeds).
async fn cached<T, F, Fut>(
    state: &AppState,
    cache: &TypedCache<T>,
    key: ListKey,
    refresh: bool,
    read: F,
) -> Result<Read<T>, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, bool), ApiError>>,
{
    let now = state.clock.now_ms();
    if !refresh && let Some(hit) = cache.get(&key, now) {
        return Ok(hit);
    }
    let fresh = Arc::new(read().await?);
    cache.put(key, fresh.clone(), now);
    Ok(fresh)
}

pub struct Key2printListsApi;

#[OpenApi(prefix_path = "/v1/stores", tag = "ApiTags::Stores")]
impl Key2printListsApi {
    /// List Key2print template formats
    ///
    /// The merchant's template formats (page size categories), for the product panel's
    /// picker. Cached for a minute per store; `refresh=true` reads them again.
    #[oai(
        path = "/:store/key2print/template-formats",
        method = "get",
        operation_id = "listKey2printTemplateFormats"
    )]
    async fn template_formats(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        #[oai(default)] refresh: Query<bool>,
    ) -> Result<StoreResponse<TemplateFormatList>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let k2p = key2print_client(&state, cfg)?;
        let read = || async {
            let (formats, more) = k2p
                .template_formats_upto(&TemplateFormatFilter::default(), MAX_LIST_ITEMS)
                .await
                .map_err(|e| list_failed("template formats", &e))?;
            Ok((formats.into_iter().map(format_item).collect(), more))
        };
        let cache = &state.key2print_lists.formats;
        let list = cached(&state, cache, (cfg.id.clone(), None), refresh.0, read).await?;
        Ok(StoreResponse::Ok(Json(TemplateFormatList {
            template_formats: list.0.clone(),
            truncated: list.1,
        })))
    }

    /// List Key2print project templates
    ///
    /// The merchant's project templates (made in the editor's merchant mode), optionally of
    /// one template format, for the product panel's picker. Cached for a minute per store and
    /// filter; `refresh=true` reads them again.
    #[oai(
        path = "/:store/key2print/templates",
        method = "get",
        operation_id = "listKey2printTemplates"
    )]
    async fn templates(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        template_format_id: Query<Option<String>>,
        #[oai(default)] refresh: Query<bool>,
    ) -> Result<StoreResponse<TemplateList>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let filter = format_filter(template_format_id.0)?;
        let k2p = key2print_client(&state, cfg)?;
        let project_filter = ProjectFilter {
            template_format_id: filter.clone(),
            user_id: None,
        };
        let read = || async {
            let (projects, more) = k2p
                .projects_upto(&project_filter, MAX_LIST_ITEMS)
                .await
                .map_err(|e| list_failed("templates", &e))?;
            Ok((projects.into_iter().map(template_item).collect(), more))
        };
        let cache = &state.key2print_lists.templates;
        let list = cached(&state, cache, (cfg.id.clone(), filter), refresh.0, read).await?;
        Ok(StoreResponse::Ok(Json(TemplateList {
            templates: list.0.clone(),
            truncated: list.1,
        })))
    }

    /// List Key2print placeholders
    ///
    /// The merchant's placeholders, which a work session fills by system name. Cached for a
    /// minute per store; `refresh=true` reads them again.
    #[oai(
        path = "/:store/key2print/placeholders",
        method = "get",
        operation_id = "listKey2printPlaceholders"
    )]
    async fn placeholders(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        #[oai(default)] refresh: Query<bool>,
    ) -> Result<StoreResponse<PlaceholderList>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let k2p = key2print_client(&state, cfg)?;
        let read = || async {
            let (list, more) = k2p
                .placeholders_upto(MAX_LIST_ITEMS)
                .await
                .map_err(|e| list_failed("placeholders", &e))?;
            Ok((list.into_iter().map(placeholder_item).collect(), more))
        };
        let cache = &state.key2print_lists.placeholders;
        let list = cached(&state, cache, (cfg.id.clone(), None), refresh.0, read).await?;
        Ok(StoreResponse::Ok(Json(PlaceholderList {
            placeholders: list.0.clone(),
            truncated: list.1,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read() -> Read<TemplateItem> {
        Arc::new((Vec::new(), false))
    }

    #[test]
    fn the_cache_expires_and_stays_bounded() {
        let cache = TypedCache::<TemplateItem>::default();
        let k = ("shop".to_owned(), None);
        cache.put(k.clone(), read(), 1_000);
        assert!(cache.get(&k, 1_000 + LIST_TTL_MS - 1).is_some());
        assert!(cache.get(&k, 1_000 + LIST_TTL_MS).is_none());
        for i in 0..MAX_CACHED_LISTS + 10 {
            let at = 2_000 + i64::try_from(i).unwrap_or(0);
            cache.put(("shop".to_owned(), Some(i.to_string())), read(), at);
        }
        assert_eq!(cache.len(), MAX_CACHED_LISTS);
        // The oldest reads made room for the newest.
        assert!(
            cache
                .get(&("shop".to_owned(), Some("0".into())), 2_100)
                .is_none()
        );
        let newest = (MAX_CACHED_LISTS + 9).to_string();
        assert!(
            cache
                .get(&("shop".to_owned(), Some(newest)), 2_100)
                .is_some()
        );
    }

    #[test]
    fn a_template_format_filter_is_a_plain_token() {
        assert_eq!(format_filter(None).ok(), Some(None));
        assert_eq!(format_filter(Some("  ".into())).ok(), Some(None));
        assert_eq!(
            format_filter(Some("b623-39_83".into())).ok(),
            Some(Some("b623-39_83".into()))
        );
        assert!(format_filter(Some("a/b".into())).is_err());
        assert!(format_filter(Some("x".repeat(65))).is_err());
    }
}
