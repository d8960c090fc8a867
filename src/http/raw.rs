//! A request body kept as raw bytes (signatures are computed over the exact bytes), accepted
//! with any Content-Type, and documented in OpenAPI as `application/json` with schema `T`.

use std::marker::PhantomData;

use poem::{Body, Request, RequestBody};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::problem::{ApiError, Problem};

pub struct RawJson<T> {
    /// The unread body; read it with a size limit.
    pub body: Body,
    /// The Content-Type as sent, if any.
    pub content_type: Option<String>,
    _schema: PhantomData<T>,
}

impl<T> RawJson<T> {
    /// Reads the body: 413 beyond `limit` bytes (`max_body_bytes`), 400 when it cannot be read.
    pub async fn read_limited(self, limit: usize) -> Result<Vec<u8>, ApiError> {
        match self.body.into_bytes_limit(limit).await {
            Ok(b) => Ok(b.to_vec()),
            Err(poem::error::ReadBodyError::PayloadTooLarge) => {
                Err(ApiError::PayloadTooLarge(Json(
                    Problem::new(
                        "payload_too_large",
                        format!("the body exceeds the limit of {limit} bytes (max_body_bytes)"),
                    )
                    .field("body"),
                )))
            }
            Err(e) => Err(ApiError::bad_request(
                "unreadable_body",
                format!("could not read the body: {e}"),
                "body",
            )),
        }
    }
}

impl<'a, T: Type> ApiExtractor<'a> for RawJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(RawJson {
            body: body.take().unwrap_or_else(|_| Body::empty()),
            content_type: request.content_type().map(str::to_owned),
            _schema: PhantomData,
        })
    }
}
