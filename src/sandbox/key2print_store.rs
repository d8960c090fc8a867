//! What the Key2print sandbox keeps: users, template formats, placeholders and work sessions,
//! and the answers of the WEBAPI methods over them (the document's response shapes).

use std::sync::Arc;

use poem::web::Data;
use poem::{Body, Response, handler};
use serde_json::{Map, Value, json};

use super::{SandboxState, json_response};

fn ok(data: Value) -> Value {
    json!({ "success": true, "data": data })
}

fn not_found(what: &str) -> Value {
    json!({ "success": false, "error_message": format!("{what} not found") })
}

fn list_name(method: &str) -> Option<&'static str> {
    match method.split('/').next() {
        Some("user") => Some("users"),
        Some("template_format") => Some("template_formats"),
        Some("placeholder") => Some("placeholders"),
        Some("project") => Some("projects"),
        Some("error_log") => Some("error_log"),
        _ => None,
    }
}

/// Answers a GET list method: a page of the stored entities.
pub(super) fn list(state: &SandboxState, method: &str, query: &[(String, String)]) -> Response {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let limit = param("limit").unwrap_or(30);
    let offset = param("offset").unwrap_or(0);
    let mut all = list_name(method)
        .map(|l| state.with(|i| i.key2print_entities.get(l).cloned().unwrap_or_default()))
        .unwrap_or_default();
    if method == "project/list" {
        all.retain(|p| project_matches(p, query));
    }
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    json_response(
        200,
        &ok(json!({ "entities": page, "limit": limit, "offset": offset, "total": all.len() })),
    )
}

/// `project/list` filters: a user's projects with `userId`, else the merchant's templates
/// (projects without a user); `templateFormatId` keeps those of one format.
fn project_matches(project: &Value, query: &[(String, String)]) -> bool {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let user_ok = match param("userId") {
        Some(user) => project["userId"].as_str() == Some(user),
        None => project.get("userId").is_none_or(Value::is_null),
    };
    let format_ok = param("templateFormatId")
        .is_none_or(|f| project["templateFormat"]["id"].as_str() == Some(f));
    user_ok && format_ok
}

/// Adds a merchant project template (what the merchant-mode editor saves) in a template
/// format, listed by `project/list` and inside the format's `projects`; returns its id.
pub(super) fn add_template(state: &SandboxState, format_id: &str, name: &str) -> Option<String> {
    let id = uuid::Uuid::new_v4().to_string();
    state.with(|i| {
        let formats = i.key2print_entities.entry("template_formats").or_default();
        let format = formats.iter_mut().find(|f| f["id"] == json!(format_id))?;
        let mut summary = json!({ "id": id, "name": name, "description": null });
        if let Some(list) = format["projects"].as_array_mut() {
            list.push(summary.clone());
        }
        let mut format_json = format.clone();
        if let Some(f) = format_json.as_object_mut() {
            f.remove("projects");
        }
        summary["isPublished"] = json!(true);
        summary["templateFormat"] = format_json;
        summary["pages"] = json!([]);
        summary["setup"] = json!([]);
        i.key2print_entities
            .entry("projects")
            .or_default()
            .push(summary);
        Some(id)
    })
}

/// `POST /_sandbox/key2print/templates` (`{"format_name": …, "template_name": …}`): adds a
/// project template to the template format of that name (created as 210 x 297 mm when missing),
/// as the merchant-mode editor would; answers both ids.
#[handler]
pub(super) async fn templates_endpoint(body: Body, state: Data<&Arc<SandboxState>>) -> Response {
    let req: Value =
        serde_json::from_slice(&body.into_vec().await.unwrap_or_default()).unwrap_or(Value::Null);
    let (Some(format_name), Some(template_name)) =
        (req["format_name"].as_str(), req["template_name"].as_str())
    else {
        return json_response(
            400,
            &json!({ "error": "format_name and template_name are required" }),
        );
    };
    let existing = state.with(|i| {
        i.key2print_entities
            .get("template_formats")
            .and_then(|l| l.iter().find(|f| f["name"] == json!(format_name)))
            .map(|f| f["id"].clone())
    });
    let format_id = match existing {
        Some(id) => id,
        None => {
            let format =
                json!({ "name": format_name, "pageWidth": 210, "pageHeight": 297, "pageBleed": 3 });
            let Value::Object(obj) = format else {
                return json_response(500, &json!({ "error": "format" }));
            };
            add(&state, "template_formats", obj)["data"]["id"].clone()
        }
    };
    let template_id = format_id
        .as_str()
        .and_then(|f| add_template(&state, f, template_name));
    json_response(
        200,
        &json!({ "template_format_id": format_id, "template_id": template_id }),
    )
}

fn add(state: &SandboxState, list: &'static str, mut obj: Map<String, Value>) -> Value {
    obj.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    if list == "placeholders" {
        obj.insert("acceptedParameters".into(), json!(["value"]));
    }
    if list == "template_formats" {
        obj.insert("projects".into(), json!([]));
    }
    let entity = Value::Object(obj);
    state.with(|i| {
        if list == "users" {
            i.key2print_users += 1;
        }
        i.key2print_entities
            .entry(list)
            .or_default()
            .push(entity.clone())
    });
    ok(entity)
}

fn update(state: &SandboxState, list: &'static str, obj: Map<String, Value>) -> Value {
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    state.with(|i| {
        let entities = i.key2print_entities.entry(list).or_default();
        match entities.iter_mut().find(|e| e["id"] == id) {
            None => not_found(list),
            Some(e) => {
                for (k, v) in obj {
                    e[k] = v;
                }
                ok(e.clone())
            }
        }
    })
}

fn remove(state: &SandboxState, list: &'static str, obj: &Map<String, Value>) -> Value {
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    state.with(|i| {
        let entities = i.key2print_entities.entry(list).or_default();
        let before = entities.len();
        entities.retain(|e| e["id"] != id);
        if entities.len() == before {
            not_found(list)
        } else {
            ok(json!({}))
        }
    })
}

fn session(state: &SandboxState, obj: Map<String, Value>) -> Value {
    let start = Value::Object(obj);
    let id = uuid::Uuid::new_v4().to_string();
    let user = start["userId"].as_str().map(|u| json!({ "id": u }));
    let project = start["projectId"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut data = json!({
        "id": id,
        "token": uuid::Uuid::new_v4().simple().to_string(),
        "mode": start["mode"],
        "merchant": { "id": "sandbox-merchant", "name": "PrintBridge sandbox" },
        "user": user,
        "productGatewayEnabled": start.get("productGatewaySetup").is_some(),
        "editorSetup": start.get("editorSetup").cloned().unwrap_or(json!({})),
        "hasExpired": false,
    });
    if start["mode"] == json!("user") {
        data["project"] = json!({ "id": project });
    }
    state.with(|i| {
        i.key2print_sessions.push(start.clone());
        i.key2print_open_sessions.push((id, start));
    });
    ok(data)
}

/// Answers a POST method whose body passed the document's checks.
pub(super) fn post(state: &SandboxState, method: &str, obj: Map<String, Value>) -> Response {
    let answer = match (method, list_name(method)) {
        ("session/start", _) => session(state, obj),
        ("cache/flush", _) => {
            let id = obj["productIdentifier"].as_str().unwrap_or("").to_owned();
            state.with(|i| i.key2print_flushes.push(id));
            ok(json!({}))
        }
        (m, Some(list)) if m.ends_with("/add") => add(state, list, obj),
        (m, Some(list)) if m.ends_with("/update") => update(state, list, obj),
        (m, Some(list)) if m.ends_with("/remove") => remove(state, list, &obj),
        _ => json!({ "success": false, "error_message": "unknown method" }),
    };
    let status = if answer["success"] == json!(true) {
        200
    } else {
        404
    };
    json_response(status, &answer)
}
