//! Sending one event job: the stored body, posted to its endpoint with the Standard Webhooks
//! headers. A 2xx answer delivers it; anything else (another status, no connection, a
//! timeout) is retried with the outbox's backoff, since a receiver dedupes on `webhook-id`
//! and a second delivery is harmless.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{EventEndpointConfig, signature, signing_key};
use crate::clock::Clock;
use crate::config::Config;
use crate::outbox::jobs::{ClaimedJob, FollowUp};
use crate::outbox::{Outcome, Report};
use crate::providers::{excerpt, parse_retry_after};

/// Bytes of an endpoint's answer read for the attempt's excerpt.
const ANSWER_BYTES: usize = 4096;

/// An endpoint ready to sign for: its URL and HMAC key.
struct Endpoint {
    url: String,
    key: Vec<u8>,
}

/// Sends event jobs to the configured endpoints.
pub struct EventSender {
    /// By (store id, endpoint id).
    endpoints: HashMap<(String, String), Endpoint>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl EventSender {
    /// The endpoints of every store; one whose secret is not a signing key (refused by the
    /// configuration's checks before) is left out, so its events fail naming it.
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Self {
        let endpoints = config
            .stores
            .iter()
            .flat_map(|s| s.events.iter().map(move |e| (s.id.clone(), e)))
            .filter_map(|(store, e): (String, &EventEndpointConfig)| {
                let key = signing_key(&e.secret).ok()?;
                let url = e.url.clone();
                Some(((store, e.id()), Endpoint { url, key }))
            })
            .collect();
        EventSender {
            endpoints,
            client: crate::net::client(config.dispatch.request_timeout()),
            clock,
        }
    }

    /// One attempt of an event job.
    pub async fn send(&self, job: &ClaimedJob) -> Report {
        let p = &job.payload;
        let (Some(msg_id), Some(endpoint_id), Some(body)) =
            (p["id"].as_str(), p["endpoint"].as_str(), p["body"].as_str())
        else {
            return Report::new(Outcome::Permanent {
                reason: "the event job's payload lacks its id, endpoint or body".into(),
            });
        };
        let key = (job.store_id.clone(), endpoint_id.to_owned());
        let Some(endpoint) = self.endpoints.get(&key) else {
            return Report::new(Outcome::Permanent {
                reason: format!(
                    "event endpoint {endpoint_id} is no longer configured for store {}",
                    job.store_id
                ),
            });
        };
        let now_ms = self.clock.now_ms();
        let timestamp = now_ms.div_euclid(1000);
        let answer = self
            .client
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&endpoint.key, msg_id, timestamp, body.as_bytes()),
            )
            .body(body.to_owned())
            .send()
            .await;
        match answer {
            Ok(resp) => answered(resp, now_ms).await,
            // The error names no URL: an endpoint's URL may carry a token.
            Err(e) => Report::new(Outcome::Retryable {
                retry_after: None,
                error: format!(
                    "cannot deliver the event: {}",
                    crate::providers::error_chain(&e.without_url())
                ),
            }),
        }
    }
}

/// The report of an answered attempt: delivered on 2xx, else retried (honouring
/// `Retry-After`).
async fn answered(mut resp: reqwest::Response, now_ms: i64) -> Report {
    let status = resp.status();
    let code = status.as_u16();
    if status.is_success() {
        return Report {
            outcome: Outcome::Success {
                provider_ref: None,
                result: json!({ "status": code }),
                follow_up: FollowUp::default(),
                resolved: false,
            },
            status_code: Some(code),
            excerpt: None,
        };
    }
    let retry_after: Option<Duration> = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now_ms));
    let mut head = Vec::new();
    while head.len() < ANSWER_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            _ => break,
        }
    }
    head.truncate(ANSWER_BYTES);
    Report {
        outcome: Outcome::Retryable {
            retry_after,
            error: format!("the event endpoint answered {code}"),
        },
        status_code: Some(code),
        excerpt: Some(excerpt(&head, &[])),
    }
}
