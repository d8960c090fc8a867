//! The Key2print sandbox: the 17 WEBAPI methods of the editor integration document, and the
//! editor's side of the product gateway (it calls the shop's gateway URLs of a work session).
//!
//! What it checks, from the document: every call carries `api-key` (the merchant key) and
//! `api-sign`, the lowercase hex HMAC-SHA256 keyed with the lowercase hex SHA-256 of the API
//! secret, over `GET` for a GET and over the raw body for a POST; a POST is
//! `Content-Type: application/json` with a JSON object holding only the method's documented
//! fields, its required fields present and each of its documented type; a GET takes only the
//! method's documented query parameters, integers where the document says so.
//! `session/start` follows the modes: `user` needs `userId`; `merchant` takes none of
//! `userId`, `projectId`, `projectTemplateId`, `productGatewaySetup`, `placeholderValues` or
//! `editorSetup.hiddenTabs`; a gateway setup needs all five of its fields.
//!
//! The verification and the gateway signature are written here from the document; they share
//! no code with the bridge's signer or verifier.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use poem::web::{Data, Path};
use poem::{Endpoint, Request, Response, Route, get, handler, post};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{SandboxState, after, before, header, json_response, sample_pdf};

/// A documented field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    Obj,
}

/// One field of a POST body: name, required, type.
pub type Field = (&'static str, bool, Kind);

/// A documented WEBAPI method.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// The path after `/api/v1/`.
    pub name: &'static str,
    pub post: bool,
    /// POST: the body's fields. GET: the query parameters (all optional).
    pub fields: &'static [Field],
}

const LIST: &[Field] = &[("limit", false, Kind::Int), ("offset", false, Kind::Int)];
const ID: &[Field] = &[("id", true, Kind::Str)];

/// The 17 methods of the document (`project/download/{id}` is matched with its id).
pub const METHODS: [Method; 17] = [
    Method {
        name: "user/list",
        post: false,
        fields: LIST,
    },
    Method {
        name: "user/add",
        post: true,
        fields: &[("username", true, Kind::Str), ("email", true, Kind::Str)],
    },
    Method {
        name: "user/update",
        post: true,
        fields: &[
            ("id", true, Kind::Str),
            ("username", false, Kind::Str),
            ("email", false, Kind::Str),
        ],
    },
    Method {
        name: "user/remove",
        post: true,
        fields: ID,
    },
    Method {
        name: "template_format/list",
        post: false,
        fields: &[
            ("limit", false, Kind::Int),
            ("offset", false, Kind::Int),
            ("pageWidth", false, Kind::Int),
            ("pageHeight", false, Kind::Int),
        ],
    },
    Method {
        name: "template_format/add",
        post: true,
        fields: &[
            ("name", true, Kind::Str),
            ("description", false, Kind::Str),
            ("pageWidth", true, Kind::Int),
            ("pageHeight", true, Kind::Int),
            ("pageBleed", true, Kind::Int),
            ("markAsDefault", false, Kind::Bool),
        ],
    },
    Method {
        name: "template_format/update",
        post: true,
        fields: &[
            ("id", true, Kind::Str),
            ("name", false, Kind::Str),
            ("description", false, Kind::Str),
            ("pageWidth", false, Kind::Int),
            ("pageHeight", false, Kind::Int),
            ("pageBleed", false, Kind::Int),
            ("markAsDefault", false, Kind::Bool),
        ],
    },
    Method {
        name: "template_format/remove",
        post: true,
        fields: ID,
    },
    Method {
        name: "project/list",
        post: false,
        fields: &[
            ("limit", false, Kind::Int),
            ("offset", false, Kind::Int),
            ("templateFormatId", false, Kind::Str),
            ("userId", false, Kind::Str),
        ],
    },
    Method {
        name: "placeholder/list",
        post: false,
        fields: LIST,
    },
    Method {
        name: "placeholder/add",
        post: true,
        fields: &[
            ("name", true, Kind::Str),
            ("systemName", true, Kind::Str),
            ("type", true, Kind::Str),
        ],
    },
    Method {
        name: "placeholder/update",
        post: true,
        fields: &[
            ("id", true, Kind::Str),
            ("name", false, Kind::Str),
            ("systemName", false, Kind::Str),
            ("type", false, Kind::Str),
        ],
    },
    Method {
        name: "placeholder/remove",
        post: true,
        fields: ID,
    },
    Method {
        name: "session/start",
        post: true,
        fields: &[
            ("mode", true, Kind::Str),
            ("userId", false, Kind::Str),
            ("projectId", false, Kind::Str),
            ("projectTemplateId", false, Kind::Str),
            ("productGatewaySetup", false, Kind::Obj),
            ("editorSetup", false, Kind::Obj),
            ("placeholderValues", false, Kind::Obj),
        ],
    },
    Method {
        name: "project/download",
        post: false,
        fields: &[],
    },
    Method {
        name: "error_log/list",
        post: false,
        fields: &[
            ("limit", false, Kind::Int),
            ("offset", false, Kind::Int),
            ("tstampFrom", false, Kind::Int),
            ("tstampTo", false, Kind::Int),
            ("productIdentifier", false, Kind::Str),
        ],
    },
    Method {
        name: "cache/flush",
        post: true,
        fields: &[("productIdentifier", true, Kind::Str)],
    },
];

fn hmac_hex(api_secret: &str, data: &[u8]) -> Hmac<Sha256> {
    let key: String = Sha256::digest(api_secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC-SHA256 takes a key of any length"));
    mac.update(data);
    mac
}

fn verify_hex(mac: Hmac<Sha256>, presented: &str) -> bool {
    hex::decode(presented).is_ok_and(|bytes| mac.verify_slice(&bytes).is_ok())
}

/// Checks `api-sign` of a WEBAPI call (`GET`, or the raw body of a POST), in constant time.
pub fn verify_webapi(api_secret: &str, post: bool, body: &[u8], api_sign: &str) -> bool {
    let signed: &[u8] = if post { body } else { b"GET" };
    verify_hex(hmac_hex(api_secret, signed), api_sign)
}

/// The `sign` of a product gateway call: every other parameter as `key=value`, sorted, joined
/// by `&`, HMAC-SHA256 keyed like the WEBAPI.
pub fn gateway_sign(api_secret: &str, params: &[(String, String)]) -> String {
    let mut chunks: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "sign")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    chunks.sort();
    hmac_hex(api_secret, chunks.join("&").as_bytes())
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn kind_ok(kind: Kind, v: &Value) -> bool {
    match kind {
        Kind::Str => v.is_string(),
        Kind::Int => v.is_i64() || v.is_u64(),
        Kind::Bool => v.is_boolean(),
        Kind::Obj => v.is_object(),
    }
}

/// Checks a POST body against the method's documented fields.
pub fn check_body(method: &Method, body: &[u8]) -> Result<Map<String, Value>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("the body is not a JSON object".to_owned());
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !method.fields.iter().any(|f| f.0 == k.as_str()))
    {
        return Err(format!("{} takes no field {k:?}", method.name));
    }
    for (name, required, kind) in method.fields {
        match obj.get(*name) {
            None if *required => return Err(format!("{name} is required")),
            Some(v) if !kind_ok(*kind, v) => return Err(format!("{name} has the wrong type")),
            _ => {}
        }
    }
    if method.name == "session/start" {
        check_session(&obj)?;
    }
    if method.name == "placeholder/add" && obj["type"] != json!("text") {
        return Err("type must be \"text\"".to_owned());
    }
    Ok(obj)
}

/// `session/start` per mode.
pub fn check_session(obj: &Map<String, Value>) -> Result<(), String> {
    match obj.get("mode").and_then(Value::as_str) {
        Some("user") => {
            if obj
                .get("userId")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err("userId is required in user mode".to_owned());
            }
        }
        Some("merchant") => {
            for f in [
                "userId",
                "projectId",
                "projectTemplateId",
                "productGatewaySetup",
                "placeholderValues",
            ] {
                if obj.contains_key(f) {
                    return Err(format!("{f} is not available in merchant mode"));
                }
            }
            if obj
                .get("editorSetup")
                .is_some_and(|e| e.get("hiddenTabs").is_some())
            {
                return Err("editorSetup.hiddenTabs is not available in merchant mode".to_owned());
            }
        }
        _ => return Err("mode must be \"merchant\" or \"user\"".to_owned()),
    }
    if let Some(g) = obj.get("productGatewaySetup") {
        for f in [
            "productIdentifier",
            "productDetailsUrl",
            "availableOptionsUrl",
            "priceUrl",
            "setupDataUrl",
        ] {
            if g.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(format!("productGatewaySetup.{f} is required"));
            }
        }
    }
    Ok(())
}

/// Checks a GET's query against the method's documented parameters.
pub fn check_query(method: &Method, query: &str) -> Result<Vec<(String, String)>, String> {
    let url = reqwest::Url::parse(&format!("http://sandbox/?{query}"))
        .map_err(|e| format!("the query does not parse: {e}"))?;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (k, v) in &pairs {
        let Some(field) = method.fields.iter().find(|f| f.0 == k.as_str()) else {
            return Err(format!("{} takes no parameter {k:?}", method.name));
        };
        if field.2 == Kind::Int && v.parse::<i64>().is_err() {
            return Err(format!("{k} must be an integer"));
        }
    }
    Ok(pairs)
}

fn failure(status: u16, message: &str) -> Response {
    json_response(
        status,
        &json!({ "success": false, "error_message": message }),
    )
}

/// The WEBAPI routes under `/api/v1/`.
pub(super) fn routes() -> Route {
    let mut route = Route::new()
        .at("/api/v1/project/download/:id", get(download))
        .at("/files/:name", get(file))
        .at(
            "/_sandbox/key2print/editor",
            post(super::key2print_editor::open_endpoint),
        )
        .at(
            "/_sandbox/key2print/templates",
            post(super::key2print_store::templates_endpoint),
        );
    for m in METHODS.iter().filter(|m| m.name != "project/download") {
        let path = format!("/api/v1/{}", m.name);
        route = if m.post {
            route.at(path, post(WebApi(m)))
        } else {
            route.at(path, get(WebApi(m)))
        };
    }
    route
}

fn authenticated(state: &SandboxState, req: &Request, post: bool, body: &[u8]) -> bool {
    let creds = &state.credentials;
    let key_ok: bool = subtle::ConstantTimeEq::ct_eq(
        header(req, "api-key").as_bytes(),
        creds.key2print_api_key.as_bytes(),
    )
    .into();
    key_ok
        && verify_webapi(
            &creds.key2print_api_secret,
            post,
            body,
            &header(req, "api-sign"),
        )
}

struct WebApi(&'static Method);

impl Endpoint for WebApi {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let Some(state) = req.data::<Arc<SandboxState>>().cloned() else {
            return Ok(failure(500, "sandbox state missing"));
        };
        let body = req.take_body().into_vec().await.unwrap_or_default();
        let m = self.0;
        if !authenticated(&state, &req, m.post, &body) {
            state.record("key2print", m.name, false, 401);
            return Ok(failure(401, "Invalid api-key or api-sign"));
        }
        let (early, fault) = before(&state, "key2print", m.name).await;
        if let Some(r) = early {
            return Ok(r);
        }
        let r = if m.post && header(&req, "Content-Type") != "application/json" {
            failure(415, "Content-Type must be application/json")
        } else if m.post {
            match check_body(m, &body) {
                Err(e) => failure(400, &e),
                Ok(obj) => super::key2print_store::post(&state, m.name, obj),
            }
        } else {
            match check_query(m, req.uri().query().unwrap_or("")) {
                Err(e) => failure(400, &e),
                Ok(q) => super::key2print_store::list(&state, m.name, &q),
            }
        };
        Ok(after(&state, "key2print", m.name, fault, r).await)
    }
}

#[handler]
async fn download(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<SandboxState>>,
) -> Response {
    const CALL: &str = "project/download";
    if !authenticated(&state, req, false, b"") {
        state.record("key2print", CALL, false, 401);
        return failure(401, "Invalid api-key or api-sign");
    }
    let (early, fault) = before(&state, "key2print", CALL).await;
    if let Some(r) = early {
        return r;
    }
    let r = if req.uri().query().is_some_and(|q| !q.is_empty()) {
        failure(400, "project/download takes no query parameters")
    } else {
        state.with(|i| *i.key2print_downloads.entry(id.clone()).or_default() += 1);
        let host = header(req, "Host");
        json_response(
            200,
            &json!({ "success": true, "data": { "download_url": format!("http://{host}/files/{id}.pdf") } }),
        )
    };
    after(&state, "key2print", CALL, fault, r).await
}

#[handler]
async fn file(Path(name): Path<String>) -> Response {
    let project = name.trim_end_matches(".pdf");
    Response::builder()
        .content_type("application/pdf")
        .body(sample_pdf(project))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/signatures.json")).unwrap()
    }

    #[test]
    fn webapi_vectors_verify_and_a_changed_byte_does_not() {
        let v = vectors();
        let list = v["key2print_webapi"].as_array().unwrap();
        assert!(!list.is_empty());
        for case in list {
            let s = |k: &str| case[k].as_str().unwrap();
            let post = s("method") == "POST";
            assert!(
                verify_webapi(s("api_secret"), post, s("body").as_bytes(), s("api_sign")),
                "{case}"
            );
            let mut sign = s("api_sign").to_owned().into_bytes();
            sign[0] = if sign[0] == b'0' { b'1' } else { b'0' };
            let sign = String::from_utf8(sign).unwrap();
            assert!(!verify_webapi(
                s("api_secret"),
                post,
                s("body").as_bytes(),
                &sign
            ));
            assert!(!verify_webapi(
                "wrong",
                post,
                s("body").as_bytes(),
                s("api_sign")
            ));
        }
    }

    #[test]
    fn gateway_vectors_match() {
        let v = vectors();
        let list = v["key2print_gateway"].as_array().unwrap();
        assert!(!list.is_empty());
        for case in list {
            let params: Vec<(String, String)> = case["query"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            assert_eq!(
                gateway_sign(case["api_secret"].as_str().unwrap(), &params),
                case["sign"].as_str().unwrap()
            );
        }
    }

    fn method(name: &str) -> &'static Method {
        METHODS.iter().find(|m| m.name == name).unwrap()
    }

    #[test]
    fn session_start_follows_the_modes() {
        let m = method("session/start");
        assert!(check_body(m, br#"{"mode":"merchant"}"#).is_ok());
        assert!(check_body(m, br#"{"mode":"user","userId":"u1"}"#).is_ok());
        for (bad, why) in [
            (r#"{"mode":"user"}"#, "userId is required in user mode"),
            (r#"{"userId":"u1"}"#, "mode is required"),
            (r#"{"mode":"admin"}"#, "mode must be"),
            (
                r#"{"mode":"merchant","userId":"u1"}"#,
                "userId is not available in merchant mode",
            ),
            (
                r#"{"mode":"merchant","editorSetup":{"hiddenTabs":{}}}"#,
                "hiddenTabs",
            ),
            (
                r#"{"mode":"user","userId":"u1","productGatewaySetup":{"productIdentifier":"1"}}"#,
                "productGatewaySetup.productDetailsUrl",
            ),
            (
                r#"{"mode":"user","userId":"u1","colour":"red"}"#,
                "takes no field",
            ),
            (r#"{"mode":"user","userId":7}"#, "wrong type"),
        ] {
            let err = check_body(m, bad.as_bytes()).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn every_method_checks_its_documented_fields() {
        assert_eq!(METHODS.len(), 17);
        assert!(
            check_body(method("user/add"), br#"{"username":"a"}"#)
                .unwrap_err()
                .contains("email")
        );
        assert!(
            check_body(
                method("template_format/add"),
                br#"{"name":"A3","pageWidth":297,"pageHeight":420}"#
            )
            .unwrap_err()
            .contains("pageBleed")
        );
        assert!(
            check_body(
                method("placeholder/add"),
                br#"{"name":"n","systemName":"s","type":"image"}"#
            )
            .is_err()
        );
        assert!(check_body(method("cache/flush"), br#"{"productIdentifier":5}"#).is_err());
        assert!(check_body(method("user/remove"), br#"{}"#).is_err());
        assert!(check_query(method("user/list"), "limit=30&offset=0").is_ok());
        assert!(check_query(method("user/list"), "limit=x").is_err());
        assert!(check_query(method("user/list"), "page=2").is_err());
        assert!(check_query(method("error_log/list"), "productIdentifier=5&tstampFrom=1").is_ok());
    }
}
