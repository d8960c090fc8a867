//! Key2print for the shop: work sessions for the editor (`POST /v1/stores/{store}/key2print/sessions`,
//! called server-side by the plugin) and the catalog cache flush.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::problem::{ApiError, Problem};
use super::stores::{StoreResponse, StoreToken, authorize};
use super::{ApiTags, AppState};
use crate::config::StoreConfig;
use crate::providers::key2print::{
    EditorColors, EditorSetup, HiddenTabs, Key2printClient, NewUser, ProductGatewaySetup,
    SessionStart,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SessionModeParam {
    /// A customer designing a product (product gateway available).
    User,
    /// The shop admin editing templates.
    Merchant,
}

/// The shop customer the session is for.
#[derive(Debug, Clone, Object)]
pub struct SessionCustomer {
    /// The WooCommerce customer id; null for a guest.
    pub id: Option<i64>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// A stable key for a guest (the plugin keeps it in the WooCommerce session).
    pub guest_key: Option<String>,
}

/// Editor look: colors (e.g. `{"primaryColor": "#310048"}`) and tabs to hide (`theme`,
/// `image`, `photoCell`, `text`, `shape`, `placeholder`).
#[derive(Debug, Clone, Default, Object)]
pub struct SessionEditor {
    #[oai(default)]
    pub colors: BTreeMap<String, String>,
    #[oai(default)]
    pub hidden_tabs: Vec<String>,
}

/// A request for a Key2print work session.
#[derive(Debug, Clone, Object)]
pub struct SessionRequest {
    pub mode: SessionModeParam,
    /// Required in user mode.
    pub customer: Option<SessionCustomer>,
    /// The WooCommerce product being personalised (the gateway's product identifier).
    pub product_id: Option<i64>,
    /// Edit this existing design instead of starting a new one.
    pub project_id: Option<String>,
    /// Start from this project template.
    pub template_id: Option<String>,
    pub editor: Option<SessionEditor>,
    /// Let the editor configure and price the product through the bridge's product gateway.
    #[oai(default)]
    pub gateway: bool,
    /// Placeholder system name -> parameters (for text placeholders: `{"value": "..."}`).
    #[oai(default)]
    pub placeholder_values: BTreeMap<String, BTreeMap<String, String>>,
}

/// A started work session: what the editor wrapper needs.
#[derive(Debug, Object)]
pub struct SessionAnswer {
    pub token: String,
    pub expires_at: Option<String>,
    /// The Key2print user (user mode).
    pub user_id: Option<String>,
    /// The project the session edits, when Key2print names it.
    pub project_id: Option<String>,
    /// Not used: the plugin's configured wrapper URL applies.
    pub editor_url: Option<String>,
    /// Parts of the request the bridge ignored, in words.
    pub warnings: Vec<String>,
}

#[derive(Debug, Object)]
pub struct FlushRequest {
    /// The WooCommerce product whose catalog data changed.
    pub product_id: i64,
}

#[derive(Debug, Object)]
pub struct FlushAnswer {
    pub flushed: bool,
}

/// The configured Key2print clients, one per store.
pub type Key2printClients = HashMap<String, Arc<Key2printClient>>;

/// The store's Key2print client, or 409 when the store has no `[stores.key2print]` section.
pub(super) fn key2print_client<'a>(
    state: &'a AppState,
    cfg: &StoreConfig,
) -> Result<&'a Key2printClient, ApiError> {
    state
        .key2print
        .get(&cfg.id)
        .map(Arc::as_ref)
        .ok_or_else(|| {
            ApiError::conflict(
                "key2print_not_configured",
                format!("store {} has no [stores.key2print] section", cfg.id),
                "store",
            )
        })
}

fn bad(error: &str, message: impl Into<String>, field: &str) -> ApiError {
    ApiError::bad_request(error, message, field)
}

fn valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn editor_setup(
    editor: &SessionEditor,
    warnings: &mut Vec<String>,
) -> Result<Option<EditorSetup>, ApiError> {
    let primary = editor
        .colors
        .iter()
        .find(|(k, _)| {
            let k = k.to_ascii_lowercase().replace('_', "");
            k == "primarycolor" || k == "primary"
        })
        .map(|(_, v)| v.trim().trim_start_matches('#').to_ascii_lowercase());
    if let Some(p) = &primary
        && (!(p.len() == 6 || p.len() == 3) || !p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(bad(
            "invalid_color",
            "editor.colors.primaryColor must be a hex color like #310048",
            "editor.colors",
        ));
    }
    let mut tabs = HiddenTabs::default();
    let mut any_tab = false;
    for t in &editor.hidden_tabs {
        let key = t.to_ascii_lowercase().replace(['_', '-', ' '], "");
        let key = key.strip_suffix("tab").unwrap_or(&key);
        let key = key.strip_suffix('s').unwrap_or(key);
        let slot = match key {
            "theme" => &mut tabs.theme_tab,
            "image" => &mut tabs.image_tab,
            "photocell" => &mut tabs.photo_cell_tab,
            "text" => &mut tabs.text_tab,
            "shape" => &mut tabs.shape_tab,
            "placeholder" => &mut tabs.placeholder_tab,
            _ => {
                // An unknown name must not keep a customer from designing: the editor opens
                // with that tab shown, and the answer says so.
                warnings.push(format!(
                    "editor.hidden_tabs: {t:?} is not a Key2print tab (theme, image, photoCell, text, shape, placeholder); ignored"
                ));
                continue;
            }
        };
        *slot = true;
        any_tab = true;
    }
    Ok((primary.is_some() || any_tab).then(|| EditorSetup {
        colors: primary.map(|primary_color| EditorColors { primary_color }),
        hidden_tabs: any_tab.then_some(tabs),
    }))
}

/// The gateway URLs Key2print calls back, from `public_url`.
pub fn gateway_setup(public_url: &str, store: &str, product_id: i64) -> ProductGatewaySetup {
    let base = format!(
        "{}/v1/key2print/{store}/gateway",
        public_url.trim_end_matches('/')
    );
    ProductGatewaySetup {
        product_identifier: product_id.to_string(),
        product_details_url: format!("{base}/product-details"),
        available_options_url: format!("{base}/available-options"),
        price_url: format!("{base}/price"),
        setup_data_url: format!("{base}/setup-data"),
    }
}

/// The Key2print user of a customer: remembered, or created once through the WEBAPI.
async fn user_for(
    state: &AppState,
    cfg: &StoreConfig,
    k2p: &Key2printClient,
    c: &SessionCustomer,
) -> Result<String, ApiError> {
    let key = match (c.id.filter(|id| *id > 0), c.guest_key.as_deref()) {
        (Some(id), _) => crate::outbox::jobs::customer_key(id),
        (None, Some(g)) if valid_token(g) => format!("guest:{g}"),
        (None, Some(_)) => {
            return Err(bad(
                "invalid_guest_key",
                "customer.guest_key must be 1-64 characters A-Z, a-z, 0-9, '-' or '_'",
                "customer.guest_key",
            ));
        }
        (None, None) => {
            return Err(bad(
                "missing_customer",
                "a user session needs customer.id or customer.guest_key",
                "customer",
            ));
        }
    };
    if let Some(id) = state.store.key2print_user(&cfg.id, &key).await? {
        return Ok(id);
    }
    let slug = key.replace(':', "-");
    let email = c
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| e.contains('@'))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{slug}@{}.printbridge.invalid", cfg.id));
    let user = k2p
        .add_user(&NewUser {
            username: format!("{}-{slug}", cfg.id),
            email,
        })
        .await
        .map_err(|e| ApiError::provider(&e))?;
    Ok(state
        .store
        .remember_key2print_user(&cfg.id, &key, &user.id, state.clock.now_ms())
        .await?)
}

/// Takes one of the store's Key2print sessions for this minute, or answers 429.
/// Rejects a project or template id that is not a plain token.
fn check_ids(req: &SessionRequest) -> Result<(), ApiError> {
    for (field, value) in [
        ("project_id", &req.project_id),
        ("template_id", &req.template_id),
    ] {
        if value.as_deref().is_some_and(|v| !valid_token(v)) {
            return Err(bad(
                &format!("invalid_{field}"),
                format!("{field} must be 1-64 characters A-Z, a-z, 0-9, '-' or '_'"),
                field,
            ));
        }
    }
    Ok(())
}

/// A user-mode session start and the Key2print user it runs as (mapped from the customer).
async fn user_start(
    state: &AppState,
    cfg: &StoreConfig,
    k2p: &Key2printClient,
    req: &SessionRequest,
    editor: Option<EditorSetup>,
) -> Result<(SessionStart, String), ApiError> {
    let customer = req.customer.as_ref().ok_or_else(|| {
        bad(
            "missing_customer",
            "a user session needs customer",
            "customer",
        )
    })?;
    let user_id = user_for(state, cfg, k2p, customer).await?;
    let gateway = if req.gateway {
        Some(product_gateway(state, cfg, req)?)
    } else {
        None
    };
    let start = SessionStart {
        project_id: req.project_id.clone(),
        project_template_id: req.template_id.clone(),
        product_gateway_setup: gateway,
        editor_setup: editor,
        placeholder_values: (!req.placeholder_values.is_empty())
            .then(|| req.placeholder_values.clone()),
        ..SessionStart::user(user_id.clone())
    };
    Ok((start, user_id))
}

/// The product gateway a user session asks for: needs the product and the bridge's public URL.
fn product_gateway(
    state: &AppState,
    cfg: &StoreConfig,
    req: &SessionRequest,
) -> Result<ProductGatewaySetup, ApiError> {
    let product_id = req.product_id.filter(|p| *p > 0).ok_or_else(|| {
        bad(
            "missing_product_id",
            "the product gateway needs product_id",
            "product_id",
        )
    })?;
    let public_url = state.config.public_url.as_deref().ok_or_else(|| {
        ApiError::conflict(
            "public_url_missing",
            "set public_url so Key2print can reach the product gateway",
            "gateway",
        )
    })?;
    Ok(gateway_setup(public_url, &cfg.id, product_id))
}

fn take_session_token(state: &AppState, cfg: &StoreConfig) -> Result<(), ApiError> {
    let per_minute = cfg.key2print.as_ref().map_or(0, |k| k.sessions_per_minute);
    let Err(retry_after) = state
        .session_limits
        .take(&cfg.id, per_minute, state.clock.now_ms())
    else {
        return Ok(());
    };
    tracing::warn!(store = %cfg.id, "Key2print session rate limit reached");
    Err(ApiError::TooManyRequests(
        Json(
            Problem::new(
                "too_many_sessions",
                format!(
                    "more than {per_minute} Key2print sessions a minute for store {} \
                     (key2print.sessions_per_minute); retry in {retry_after} s",
                    cfg.id
                ),
            )
            .field("store"),
        ),
        retry_after,
    ))
}

pub struct Key2printApi;

#[OpenApi(prefix_path = "/v1/stores", tag = "ApiTags::Stores")]
impl Key2printApi {
    /// Start a Key2print work session
    ///
    /// For the product page (user mode) or the admin's template screen (merchant mode). In
    /// user mode the shop's customer (or guest) is mapped to a Key2print user, created once
    /// through the WEBAPI and remembered. With `gateway`, the session carries the bridge's
    /// product gateway URLs (from `public_url`) so the editor configures and prices the
    /// product from the shop's catalog.
    #[oai(
        path = "/:store/key2print/sessions",
        method = "post",
        operation_id = "startKey2printSession"
    )]
    async fn start_session(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        body: Json<SessionRequest>,
    ) -> Result<StoreResponse<SessionAnswer>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let k2p = key2print_client(&state, cfg)?;
        take_session_token(&state, cfg)?;
        let mut req = body.0;
        // The plugin sends "" for a setting the shop owner left empty.
        for v in [&mut req.project_id, &mut req.template_id] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
        let mut warnings = Vec::new();
        let editor = match req.editor.as_ref() {
            Some(e) => editor_setup(e, &mut warnings)?,
            None => None,
        };
        check_ids(&req)?;
        let (start, user_id) = match req.mode {
            SessionModeParam::Merchant => (
                SessionStart {
                    editor_setup: editor,
                    ..SessionStart::merchant()
                },
                None,
            ),
            SessionModeParam::User => {
                let (start, user_id) = user_start(&state, cfg, k2p, &req, editor).await?;
                (start, Some(user_id))
            }
        };
        let session = k2p
            .start_session(&start)
            .await
            .map_err(|e| ApiError::provider(&e))?;
        tracing::info!(store = %cfg.id, mode = ?req.mode, "Key2print session started");
        Ok(StoreResponse::Ok(Json(SessionAnswer {
            token: session.token,
            expires_at: session.expires_at,
            user_id,
            project_id: session.project_id,
            editor_url: None,
            warnings,
        })))
    }

    /// Flush the Key2print catalog cache of a product
    ///
    /// Called by the plugin when a product is saved: drops the bridge's cached catalog reads
    /// of the product and the store's cached settings (currency, tax settings and rates),
    /// and asks Key2print to flush its own cache for it.
    #[oai(
        path = "/:store/key2print/cache/flush",
        method = "post",
        operation_id = "flushKey2printCache"
    )]
    async fn flush(
        &self,
        token: StoreToken,
        state: Data<&Arc<AppState>>,
        store: Path<String>,
        body: Json<FlushRequest>,
    ) -> Result<StoreResponse<FlushAnswer>, ApiError> {
        let cfg = authorize(&state, &store.0, &token)?;
        let k2p = key2print_client(&state, cfg)?;
        if body.0.product_id <= 0 {
            return Err(ApiError::BadRequest(Json(
                Problem::new(
                    "invalid_product_id",
                    "product_id must be a WooCommerce product id",
                )
                .field("product_id"),
            )));
        }
        state.catalog.flush(&cfg.id, body.0.product_id);
        k2p.flush_cache(&body.0.product_id.to_string())
            .await
            .map_err(|e| ApiError::provider(&e))?;
        Ok(StoreResponse::Ok(Json(FlushAnswer { flushed: true })))
    }
}
