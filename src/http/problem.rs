//! Uniform JSON errors: `{"error": code, "message": text, "field": name?}` for every 4xx/5xx,
//! including those poem produces itself (unknown route, wrong method, bad parameter).

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use serde::Serialize;

use crate::store::StoreError;

/// An error answer.
#[derive(Debug, Clone, Serialize, Object)]
pub struct Problem {
    /// A stable, machine-readable code, e.g. `invalid_signature`.
    pub error: String,
    /// What happened, in words for a person.
    pub message: String,
    /// The request field (parameter, header or body field) the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    pub fn new(error: &str, message: impl Into<String>) -> Self {
        Problem {
            error: error.to_owned(),
            message: message.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }
}

/// Every error an endpoint can answer with.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed; `field` names what is wrong.
    #[oai(status = 400)]
    BadRequest(Json<Problem>),
    /// Missing or wrong credentials or signature.
    #[oai(status = 401)]
    Unauthorized(Json<Problem>),
    /// No such store, order or resource.
    #[oai(status = 404)]
    NotFound(Json<Problem>),
    /// The request conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<Problem>),
    /// The body is larger than the configured limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<Problem>),
    /// The Content-Type is not one this endpoint reads.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<Problem>),
    /// The request is well-formed but names something that cannot be done; `field` says what.
    #[oai(status = 422)]
    Unprocessable(Json<Problem>),
    /// Too many requests of this kind for the store; retry after `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// Something failed on our side; nothing was acknowledged.
    #[oai(status = 500)]
    Internal(Json<Problem>),
    /// A provider refused or failed the call the bridge made on the caller's behalf.
    #[oai(status = 502)]
    BadGateway(Json<Problem>),
    /// The database or a dependency is unavailable; retry later. Nothing was acknowledged.
    #[oai(status = 503)]
    Unavailable(Json<Problem>),
}

impl ApiError {
    pub fn bad_request(error: &str, message: impl Into<String>, field: &str) -> Self {
        ApiError::BadRequest(Json(Problem::new(error, message).field(field)))
    }
    pub fn unauthorized(error: &str, message: impl Into<String>) -> Self {
        ApiError::Unauthorized(Json(Problem::new(error, message)))
    }
    pub fn not_found(error: &str, message: impl Into<String>, field: &str) -> Self {
        ApiError::NotFound(Json(Problem::new(error, message).field(field)))
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::Unavailable(Json(Problem::new("unavailable", message)))
    }
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(Json(Problem::new("internal", message)))
    }
    /// A provider call made for the caller failed; the message names provider and call
    /// and holds no URL (transport errors are recorded without one, excerpts are redacted).
    pub fn provider(e: &crate::providers::ProviderError) -> Self {
        ApiError::BadGateway(Json(Problem::new("provider_error", e.to_string())))
    }

    pub fn conflict(error: &str, message: impl Into<String>, field: &str) -> Self {
        ApiError::Conflict(Json(Problem::new(error, message).field(field)))
    }

    pub fn unprocessable(error: &str, message: impl Into<String>, field: &str) -> Self {
        ApiError::Unprocessable(Json(Problem::new(error, message).field(field)))
    }

    pub fn unknown_store(store: &str) -> Self {
        ApiError::not_found(
            "unknown_store",
            format!("no store {store:?} is configured on this bridge"),
            "store",
        )
    }
}

impl ApiError {
    /// 503 for any store error, for the operations that answer every failure to read the
    /// database as "retry later" (`/metrics`).
    pub fn database_unavailable(e: StoreError) -> Self {
        tracing::error!(error = %e, "database error");
        ApiError::unavailable(DATABASE_UNAVAILABLE)
    }
}

const DATABASE_UNAVAILABLE: &str = "the bridge's database is unavailable; nothing was changed";

/// Each kind of store error to its status: a missing row 404, a conflicting state 409, an
/// unavailable database (and a store writer that stopped) 503, anything else 500.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(message) => {
                ApiError::NotFound(Json(Problem::new("not_found", message)))
            }
            StoreError::Conflict(message) => {
                ApiError::Conflict(Json(Problem::new("conflict", message)))
            }
            StoreError::Unavailable(_) => ApiError::database_unavailable(e),
            StoreError::Database(_)
            | StoreError::Internal(_)
            | StoreError::Migrate(_)
            | StoreError::UnsupportedUrl(_) => {
                tracing::error!(error = %e, "database error");
                ApiError::internal("the bridge's database failed the request; nothing was changed")
            }
        }
    }
}

/// The code and field for a poem error, from its status and text.
fn classify(status: StatusCode, text: &str) -> (&'static str, Option<String>) {
    let field = text
        .split(['`', '"'])
        .nth(1)
        .filter(|f| !f.is_empty() && f.len() < 64)
        .map(str::to_owned);
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "error",
    };
    (code, field)
}

/// Turns any error that escaped the handlers into a JSON problem; JSON answers pass through.
pub async fn problem_from_error(err: poem::Error) -> Response {
    let status = err.status();
    let text = err.to_string();
    let resp = err.into_response();
    let is_json = resp
        .content_type()
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (code, field) = classify(status, &text);
    let message = match status {
        StatusCode::NOT_FOUND => "no such endpoint; see /docs for the API".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => {
            "this endpoint does not take that method; see /docs".to_owned()
        }
        StatusCode::UNAUTHORIZED if text.is_empty() || text == "authorization error" => {
            "missing or wrong bearer token".to_owned()
        }
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_owned(),
        _ => text,
    };
    let mut out = Json(Problem {
        error: code.to_owned(),
        message,
        field: if status == StatusCode::BAD_REQUEST {
            field
        } else {
            None
        },
    })
    .into_response();
    out.set_status(status);
    if status == StatusCode::UNAUTHORIZED {
        out.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static("Bearer"),
        );
    }
    out
}

/// Used as `bad_request_handler` of every success response: a parameter failed to parse.
pub fn bad_request_problem(err: poem::Error) -> Json<Problem> {
    let text = err.to_string();
    let (_, field) = classify(StatusCode::BAD_REQUEST, &text);
    Json(Problem {
        error: "bad_request".to_owned(),
        message: text,
        field,
    })
}

/// The answer of an endpoint behind a bearer token: the object, or a JSON problem for a bad
/// parameter (400) or a missing token (401; a wrong token is refused by the handler).
#[derive(ApiResponse)]
#[oai(bad_request_handler = "authed_bad_request")]
pub enum Authed<T: poem_openapi::types::ToJSON + Send + Sync> {
    #[oai(status = 200)]
    Ok(Json<T>),
    #[oai(status = 400)]
    BadRequest(Json<Problem>),
    /// Missing or wrong bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<Problem>),
}

fn authed_bad_request<T: poem_openapi::types::ToJSON + Send + Sync>(err: poem::Error) -> Authed<T> {
    if err.status() == StatusCode::UNAUTHORIZED {
        return Authed::Unauthorized(Json(
            Problem::new("unauthorized", "missing or wrong bearer token").field("Authorization"),
        ));
    }
    Authed::BadRequest(bad_request_problem(err))
}

#[cfg(test)]
mod tests {
    use poem::IntoResponse;

    use super::*;
    use crate::store::Store;

    /// The status and problem body an error is answered with.
    async fn answer(e: ApiError) -> (u16, serde_json::Value) {
        let resp = e.into_response();
        let status = resp.status().as_u16();
        let body = resp.into_body().into_vec().await.expect("body");
        (status, serde_json::from_slice(&body).expect("problem"))
    }

    async fn sqlite_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = Store::connect(&url).await.expect("store");
        (dir, store)
    }

    /// A closed pool is an unavailable database: 503 with a problem that says so.
    #[tokio::test]
    async fn a_closed_pool_is_answered_503() {
        let (_dir, store) = sqlite_store().await;
        store.ping().await.expect("ping");
        store.close().await;
        let err = store.ping().await.expect_err("a closed pool");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let (status, problem) = answer(err.into()).await;
        assert_eq!(status, 503, "{problem}");
        assert_eq!(problem["error"], "unavailable", "{problem}");
        assert!(
            problem["message"]
                .as_str()
                .is_some_and(|m| m.contains("database is unavailable")),
            "{problem}"
        );
    }

    /// A refused connection is an unavailable database too.
    #[tokio::test]
    async fn a_refused_connection_is_answered_503() {
        use sqlx::Connection as _;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let refused = sqlx::PgConnection::connect(&format!("postgres://u@127.0.0.1:{port}/db"))
            .await
            .expect_err("nothing listens");
        let err = StoreError::from(refused);
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert_eq!(answer(err.into()).await.0, 503);
    }

    /// A statement the database refuses is not an outage: 500.
    #[tokio::test]
    async fn a_refused_statement_is_answered_500() {
        let (_dir, store) = sqlite_store().await;
        let Store::Sqlite(pool, _) = &store else {
            panic!("a SQLite store");
        };
        let refused = sqlx::query("SELECT * FROM no_such_table")
            .execute(pool)
            .await
            .expect_err("no such table");
        let err = StoreError::from(refused);
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        let (status, problem) = answer(err.into()).await;
        assert_eq!(status, 500, "{problem}");
        assert_eq!(problem["error"], "internal", "{problem}");
    }

    #[tokio::test]
    async fn each_kind_has_its_status() {
        for (err, status, code) in [
            (StoreError::NotFound("no job 7".into()), 404, "not_found"),
            (
                StoreError::Conflict("job 7 is running".into()),
                409,
                "conflict",
            ),
            (
                StoreError::Internal("2 rows stored, 1 returned".into()),
                500,
                "internal",
            ),
            (
                StoreError::from(sqlx::Error::PoolTimedOut),
                503,
                "unavailable",
            ),
            (
                StoreError::from(sqlx::Error::PoolClosed),
                503,
                "unavailable",
            ),
            (
                StoreError::from(sqlx::Error::Protocol("x".into())),
                500,
                "internal",
            ),
            (StoreError::from(sqlx::Error::RowNotFound), 500, "internal"),
            (
                StoreError::Unavailable("the intake writer has stopped".into()),
                503,
                "unavailable",
            ),
        ] {
            let shared = err.shared();
            for e in [err, shared] {
                let shown = e.to_string();
                let (got, problem) = answer(e.into()).await;
                assert_eq!(
                    (got, problem["error"].as_str()),
                    (status, Some(code)),
                    "{shown}"
                );
            }
        }
    }
}
