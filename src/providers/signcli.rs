//! `printbridge sign`: prints the exact headers the bridge would send, or verifies an
//! inbound signature, so an integrator can debug a 401 in a minute.
//!
//! ```text
//! printbridge sign spiff-rest --access-key K --secret-key env:VAR --date "..." --path /api/v2/orders --body-file f.json
//! printbridge sign apliiq --app-id A --shared-secret file:/run/secret --rts 1764000000 --state abc --body-file order.json
//! printbridge sign key2print --api-key K --api-secret env:K2P --method POST --body-file session.json
//! printbridge sign --verify woocommerce --secret env:WH --signature "..." --body-file delivery.json
//! printbridge sign --verify apliiq-callback --shared-secret env:AQ --hmac "..." --body-file callback.json
//! printbridge sign --verify key2print-gateway --api-secret env:K2P --query "productIdentifier=1&key=...&sign=..."
//! ```
//!
//! The body comes from `--body`, `--body-file FILE` (`-` for stdin) or, when neither is given,
//! stdin; it is used byte for byte. Secrets may be given as `env:NAME` or `file:/path`. Exit
//! status: 0 printed or valid, 1 invalid (the report says which input differed and shows the
//! expected value, never a secret), 2 usage error.

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::config::SpiffBodyHash;
use crate::providers::{apliiq, key2print, spiff};
use crate::secret::Secret;

/// Arguments of `printbridge sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Verify an inbound (or captured) signature instead of printing the headers to send.
    #[arg(long)]
    pub verify: bool,
    #[command(subcommand)]
    pub kind: Box<SignKind>,
}

/// Which signature.
#[derive(Debug, clap::Subcommand)]
pub enum SignKind {
    /// Spiff REST `Authorization: SOA key:signature` (verify with --authorization).
    SpiffRest(SpiffRestArgs),
    /// Spiff GraphQL headers (`X-Application-Key`); nothing is signed.
    SpiffGraphql(SpiffGraphqlArgs),
    /// Apliiq `Authorization: x-apliiq-auth RTS:SIG:APPID:STATE` (verify with --authorization).
    Apliiq(ApliiqArgs),
    /// Apliiq fulfilment callback `x-apliiq-hmac` (verify with --hmac).
    ApliiqCallback(ApliiqCallbackArgs),
    /// Key2print WEBAPI `api-key` and `api-sign` (verify with --api-sign).
    Key2print(Key2printArgs),
    /// Key2print Product Gateway `sign` query parameter (verify: the query carries `sign`).
    Key2printGateway(GatewayArgs),
    /// WooCommerce `X-WC-Webhook-Signature` (verify with --signature).
    Woocommerce(WooArgs),
}

/// Where the body comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct BodyArgs {
    /// The body as a literal string.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// The body from a file (`-` for stdin).
    #[arg(long)]
    pub body_file: Option<PathBuf>,
}

/// Spiff REST SOA inputs.
#[derive(Debug, clap::Args)]
pub struct SpiffRestArgs {
    #[arg(long)]
    pub access_key: String,
    /// The secret key (or env:NAME / file:/path).
    #[arg(long)]
    pub secret_key: String,
    /// Body digest: sha512 (current docs) or md5 (legacy docs, Spiff's plugin).
    #[arg(long, default_value = "sha512", value_parser = ["sha512", "md5"])]
    pub body_hash: String,
    #[arg(long, default_value = "POST")]
    pub method: String,
    #[arg(long, default_value = spiff::CONTENT_TYPE)]
    pub content_type: String,
    /// The Date header (IMF-fixdate); default now.
    #[arg(long)]
    pub date: Option<String>,
    #[arg(long, default_value = spiff::REST_ORDERS_PATH)]
    pub path: String,
    /// With --verify: the Authorization header that was sent.
    #[arg(long)]
    pub authorization: Option<String>,
    #[command(flatten)]
    pub body: BodyArgs,
}

/// Spiff GraphQL inputs.
#[derive(Debug, clap::Args)]
pub struct SpiffGraphqlArgs {
    /// The application key (or env:NAME / file:/path).
    #[arg(long)]
    pub application_key: String,
    /// The Date header; default now.
    #[arg(long)]
    pub date: Option<String>,
}

/// Apliiq request inputs.
#[derive(Debug, clap::Args)]
pub struct ApliiqArgs {
    #[arg(long)]
    pub app_id: String,
    /// The shared secret (or env:NAME / file:/path).
    #[arg(long)]
    pub shared_secret: String,
    /// Request time stamp (Unix seconds); default now. Ignored with --verify.
    #[arg(long)]
    pub rts: Option<String>,
    /// Nonce; default random. Ignored with --verify.
    #[arg(long)]
    pub state: Option<String>,
    /// With --verify: the Authorization header that was sent.
    #[arg(long)]
    pub authorization: Option<String>,
    #[command(flatten)]
    pub body: BodyArgs,
}

/// Apliiq callback inputs.
#[derive(Debug, clap::Args)]
pub struct ApliiqCallbackArgs {
    /// The shared secret (or env:NAME / file:/path).
    #[arg(long)]
    pub shared_secret: String,
    /// With --verify: the x-apliiq-hmac header that came in.
    #[arg(long)]
    pub hmac: Option<String>,
    #[command(flatten)]
    pub body: BodyArgs,
}

/// Key2print WEBAPI inputs.
#[derive(Debug, clap::Args)]
pub struct Key2printArgs {
    #[arg(long)]
    pub api_key: String,
    /// The API secret (or env:NAME / file:/path).
    #[arg(long)]
    pub api_secret: String,
    /// GET signs the string `GET`; POST signs the body.
    #[arg(long, default_value = "POST", value_parser = ["GET", "POST"])]
    pub method: String,
    /// With --verify: the api-sign header that was sent.
    #[arg(long)]
    pub api_sign: Option<String>,
    #[command(flatten)]
    pub body: BodyArgs,
}

/// Key2print gateway inputs.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// The API secret (or env:NAME / file:/path).
    #[arg(long)]
    pub api_secret: String,
    /// The query string (URL-encoded, with or without `?`), or a whole callback URL.
    #[arg(long)]
    pub query: String,
    /// With --verify: also check that the `key` parameter is this API key.
    #[arg(long)]
    pub api_key: Option<String>,
}

/// WooCommerce webhook inputs.
#[derive(Debug, clap::Args)]
pub struct WooArgs {
    /// The webhook secret (or env:NAME / file:/path).
    #[arg(long)]
    pub secret: String,
    /// With --verify: the X-WC-Webhook-Signature header that came in.
    #[arg(long)]
    pub signature: Option<String>,
    #[command(flatten)]
    pub body: BodyArgs,
}

/// A problem with the command line; exit status 2.
#[derive(Debug)]
struct Usage(String);

fn usage<T>(message: impl Into<String>) -> Result<T, Usage> {
    Err(Usage(message.into()))
}

fn resolve_secret(flag: &str, value: &str) -> Result<Secret, Usage> {
    if let Some(name) = value.strip_prefix("env:") {
        return match std::env::var(name.trim()) {
            Ok(v) => Ok(Secret::new(v)),
            Err(_) => usage(format!(
                "--{flag}: environment variable {} is not set",
                name.trim()
            )),
        };
    }
    if let Some(path) = value.strip_prefix("file:") {
        return match std::fs::read_to_string(path.trim()) {
            Ok(v) => Ok(Secret::new(v.trim_end_matches(['\r', '\n']))),
            Err(e) => usage(format!("--{flag}: cannot read {}: {e}", path.trim())),
        };
    }
    if value.is_empty() {
        return usage(format!("--{flag} is empty"));
    }
    Ok(Secret::new(value))
}

fn read_body(args: &BodyArgs) -> Result<Vec<u8>, Usage> {
    if let Some(b) = &args.body {
        return Ok(b.as_bytes().to_vec());
    }
    match &args.body_file {
        Some(p) if p.as_os_str() != "-" => std::fs::read(p)
            .or_else(|e| usage(format!("--body-file: cannot read {}: {e}", p.display()))),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .or_else(|e| usage(format!("cannot read the body from stdin: {e}")))?;
            Ok(buf)
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What the command prints and its exit status.
struct Report {
    lines: Vec<String>,
    code: i32,
}

impl Report {
    fn printed(lines: Vec<String>) -> Self {
        Report { lines, code: 0 }
    }
    fn valid(what: impl Into<String>) -> Self {
        Report {
            lines: vec![format!("valid: {}", what.into())],
            code: 0,
        }
    }
    fn invalid(lines: Vec<String>) -> Self {
        let mut all = vec!["INVALID".to_owned()];
        all.extend(lines);
        Report {
            lines: all,
            code: 1,
        }
    }
}

/// Runs the command, writing its report to `out`; returns the process exit code.
pub fn run(args: &SignArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let report = match build(args) {
        Ok(r) => r,
        Err(Usage(message)) => {
            writeln!(out, "usage error: {message}")?;
            return Ok(2);
        }
    };
    for line in &report.lines {
        writeln!(out, "{line}")?;
    }
    Ok(report.code)
}

fn build(args: &SignArgs) -> Result<Report, Usage> {
    match args.kind.as_ref() {
        SignKind::SpiffRest(a) => spiff_rest(a, args.verify),
        SignKind::SpiffGraphql(a) => {
            if args.verify {
                return usage("spiff-graphql signs nothing; there is nothing to verify");
            }
            let key = resolve_secret("application-key", &a.application_key)?;
            let date = a
                .date
                .clone()
                .unwrap_or_else(|| super::imf_fixdate(now_ms()));
            Ok(Report::printed(vec![
                format!("POST {}", spiff::GRAPHQL_PATH),
                format!("Content-Type: {}", spiff::CONTENT_TYPE),
                format!("Date: {date}"),
                format!("X-Application-Key: {}", key.expose()),
            ]))
        }
        SignKind::Apliiq(a) => apliiq_request(a, args.verify),
        SignKind::ApliiqCallback(a) => apliiq_callback(a, args.verify),
        SignKind::Key2print(a) => key2print_webapi(a, args.verify),
        SignKind::Key2printGateway(a) => key2print_gateway(a, args.verify),
        SignKind::Woocommerce(a) => woocommerce(a, args.verify),
    }
}

fn escaped(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn trailing_newline_hint(body: &[u8], matches: impl Fn(&[u8]) -> bool) -> Option<String> {
    let trimmed = body
        .strip_suffix(b"\n")
        .map(|b| b.strip_suffix(b"\r").unwrap_or(b));
    match trimmed {
        Some(t) if matches(t) => Some(
            "body differs: the signature matches the body without its trailing newline (the file has one the sender did not sign)".to_owned(),
        ),
        _ => None,
    }
}

fn spiff_rest(a: &SpiffRestArgs, verify: bool) -> Result<Report, Usage> {
    let secret = resolve_secret("secret-key", &a.secret_key)?;
    let body = read_body(&a.body)?;
    let hash = if a.body_hash == "md5" {
        SpiffBodyHash::Md5
    } else {
        SpiffBodyHash::Sha512
    };
    let date = match (&a.date, verify) {
        (Some(d), _) => d.clone(),
        (None, false) => super::imf_fixdate(now_ms()),
        (None, true) => return usage("--verify spiff-rest needs --date (the Date header sent)"),
    };
    let req = spiff::SoaRequest {
        method: &a.method,
        body: &body,
        content_type: &a.content_type,
        date: &date,
        path: &a.path,
    };
    let expected = spiff::soa_authorization(&a.access_key, secret.expose(), hash, &req);
    let to_sign = spiff::string_to_sign(hash, &req);
    if !verify {
        return Ok(Report::printed(vec![
            format!("Authorization: {expected}"),
            format!("Content-Type: {}", a.content_type),
            format!("Date: {date}"),
            String::new(),
            format!("# string to sign: {}", escaped(&to_sign)),
        ]));
    }
    spiff_rest_verify(a, secret.expose(), hash, &req, &expected, &to_sign)
}

/// Checks `--authorization` against the SOA signature of `req`; when it differs, says which
/// part most likely does (the body hash, a trailing newline, or something else).
fn spiff_rest_verify(
    a: &SpiffRestArgs,
    secret: &str,
    hash: SpiffBodyHash,
    req: &spiff::SoaRequest<'_>,
    expected: &str,
    to_sign: &str,
) -> Result<Report, Usage> {
    let Some(presented) = a.authorization.as_deref().map(str::trim) else {
        return usage("--verify spiff-rest needs --authorization");
    };
    let Some((key, sig)) = presented
        .strip_prefix("SOA ")
        .and_then(|r| r.trim().split_once(':'))
    else {
        return Ok(Report::invalid(vec![
            "authorization differs: not of the form `SOA <access key>:<signature>`".to_owned(),
            format!("expected: {expected}"),
        ]));
    };
    let ok_with = |h: SpiffBodyHash, body: &[u8]| {
        let r = spiff::SoaRequest { body, ..*req };
        let mine = spiff::soa_signature(secret, h, &r);
        bool::from(subtle::ConstantTimeEq::ct_eq(
            mine.as_bytes(),
            sig.as_bytes(),
        ))
    };
    if key != a.access_key {
        return Ok(Report::invalid(vec![
            format!(
                "access key differs: the header names {key:?}, you gave {:?}",
                a.access_key
            ),
            format!("expected: {expected}"),
        ]));
    }
    if ok_with(hash, req.body) {
        return Ok(Report::valid(format!("SOA signature ({})", a.body_hash)));
    }
    Ok(Report::invalid(vec![
        spiff_difference(hash, req.body, ok_with),
        format!("expected: {expected}"),
        format!("string to sign: {}", escaped(to_sign)),
    ]))
}

/// Why a Spiff signature that does not match `body` with `hash` differs, as far as
/// `ok_with(hash, body)` can tell.
fn spiff_difference(
    hash: SpiffBodyHash,
    body: &[u8],
    ok_with: impl Fn(SpiffBodyHash, &[u8]) -> bool,
) -> String {
    let other = if hash == SpiffBodyHash::Md5 {
        SpiffBodyHash::Sha512
    } else {
        SpiffBodyHash::Md5
    };
    if ok_with(other, body) {
        format!(
            "body hash differs: the signature was made with --body-hash {}",
            if other == SpiffBodyHash::Md5 {
                "md5"
            } else {
                "sha512"
            }
        )
    } else if let Some(h) = trailing_newline_hint(body, |b| ok_with(hash, b)) {
        h
    } else {
        "signature differs: check the secret key, method, body, content type, date and path"
            .to_owned()
    }
}

fn apliiq_request(a: &ApliiqArgs, verify: bool) -> Result<Report, Usage> {
    let secret = resolve_secret("shared-secret", &a.shared_secret)?;
    let body = read_body(&a.body)?;
    if !verify {
        return Ok(apliiq_printed(a, secret.expose(), &body));
    }
    let Some(presented) = a.authorization.as_deref() else {
        return usage("--verify apliiq needs --authorization");
    };
    let Some(parts) = apliiq::parse_authorization(presented) else {
        return Ok(Report::invalid(vec![
            "authorization differs: not of the form `x-apliiq-auth RTS:SIG:APPID:STATE`".to_owned(),
        ]));
    };
    let expected =
        apliiq::authorization(secret.expose(), &a.app_id, &parts.rts, &parts.state, &body);
    if parts.app_id != a.app_id {
        return Ok(Report::invalid(vec![
            format!(
                "app id differs: the header names {:?}, you gave {:?}",
                parts.app_id, a.app_id
            ),
            format!("expected: {expected}"),
        ]));
    }
    let ok_for = |b: &[u8]| {
        let mine = apliiq::signature(secret.expose(), &a.app_id, &parts.rts, &parts.state, b);
        bool::from(subtle::ConstantTimeEq::ct_eq(
            mine.as_bytes(),
            parts.signature.as_bytes(),
        ))
    };
    if ok_for(&body) {
        return Ok(Report::valid(format!(
            "x-apliiq-auth (rts {}, state {})",
            parts.rts, parts.state
        )));
    }
    let mut lines = vec![trailing_newline_hint(&body, ok_for).unwrap_or_else(|| {
        "signature differs: check the shared secret and the body (RTS and STATE are taken from the header)".to_owned()
    })];
    lines.push(format!("expected: {expected}"));
    Ok(Report::invalid(lines))
}

/// The headers of a signed Apliiq request; RTS and STATE are made up when not given.
fn apliiq_printed(a: &ApliiqArgs, secret: &str, body: &[u8]) -> Report {
    let rts = a
        .rts
        .clone()
        .unwrap_or_else(|| now_ms().div_euclid(1000).to_string());
    let state = a
        .state
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let auth = apliiq::authorization(secret, &a.app_id, &rts, &state, body);
    Report::printed(vec![
        format!("Authorization: {auth}"),
        "Accept: application/json".to_owned(),
        "Content-Type: application/json".to_owned(),
        String::new(),
        format!(
            "# string to sign: {}",
            escaped(&apliiq::string_to_sign(&a.app_id, &rts, &state, body))
        ),
    ])
}

fn apliiq_callback(a: &ApliiqCallbackArgs, verify: bool) -> Result<Report, Usage> {
    let secret = resolve_secret("shared-secret", &a.shared_secret)?;
    let body = read_body(&a.body)?;
    let expected = apliiq::callback_hmac(secret.expose(), &body);
    if !verify {
        return Ok(Report::printed(vec![format!("x-apliiq-hmac: {expected}")]));
    }
    let Some(presented) = a.hmac.as_deref() else {
        return usage("--verify apliiq-callback needs --hmac");
    };
    if apliiq::verify_callback(&secret, &body, presented) {
        return Ok(Report::valid("x-apliiq-hmac"));
    }
    let mut lines = vec![
        trailing_newline_hint(&body, |b| apliiq::verify_callback(&secret, b, presented))
            .unwrap_or_else(|| {
                "x-apliiq-hmac differs: check the shared secret and the body".to_owned()
            }),
    ];
    lines.push(format!("expected: {expected}"));
    Ok(Report::invalid(lines))
}

fn key2print_webapi(a: &Key2printArgs, verify: bool) -> Result<Report, Usage> {
    let secret = resolve_secret("api-secret", &a.api_secret)?;
    let body = if a.method == "GET" && a.body.body.is_none() && a.body.body_file.is_none() {
        Vec::new()
    } else {
        read_body(&a.body)?
    };
    let expected = key2print::webapi_sign(secret.expose(), &a.method, &body);
    if !verify {
        let mut lines = vec![
            format!("api-key: {}", a.api_key),
            format!("api-sign: {expected}"),
        ];
        if a.method == "POST" {
            lines.push("Content-Type: application/json".to_owned());
        }
        return Ok(Report::printed(lines));
    }
    let Some(presented) = a.api_sign.as_deref().map(str::trim) else {
        return usage("--verify key2print needs --api-sign");
    };
    let same = |mine: &str| {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            mine.as_bytes(),
            presented.to_ascii_lowercase().as_bytes(),
        ))
    };
    if same(&expected) {
        return Ok(Report::valid(format!("api-sign ({})", a.method)));
    }
    let other_method = if a.method == "GET" { "POST" } else { "GET" };
    let mut lines = Vec::new();
    if same(&key2print::webapi_sign(
        secret.expose(),
        other_method,
        &body,
    )) {
        lines.push(format!(
            "method differs: the sign was made for --method {other_method}"
        ));
    } else if let Some(h) = trailing_newline_hint(&body, |b| {
        same(&key2print::webapi_sign(secret.expose(), &a.method, b))
    }) {
        lines.push(h);
    } else {
        lines.push("api-sign differs: check the API secret and the body".to_owned());
    }
    lines.push(format!("expected: {expected}"));
    Ok(Report::invalid(lines))
}

fn pairs(params: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

fn key2print_gateway(a: &GatewayArgs, verify: bool) -> Result<Report, Usage> {
    let secret = resolve_secret("api-secret", &a.api_secret)?;
    let raw = a.query.trim();
    let raw = raw.split_once('?').map_or(raw, |(_, q)| q);
    let params = key2print::parse_query(raw);
    if params.is_empty() {
        return usage("--query has no parameters");
    }
    if !verify {
        let sign = key2print::gateway_sign(secret.expose(), pairs(&params));
        return Ok(Report::printed(vec![
            format!("sign={sign}"),
            String::new(),
            format!(
                "# string to sign: {}",
                escaped(&key2print::gateway_string(pairs(&params)))
            ),
        ]));
    }
    let key_note = a.api_key.as_ref().and_then(|k| {
        let got = params
            .iter()
            .rev()
            .find(|(n, _)| n == "key")
            .map(|(_, v)| v);
        (got != Some(k)).then(|| {
            format!(
                "key differs: the query has key={:?}, the configured API key is {k:?}",
                got.map(String::as_str).unwrap_or("")
            )
        })
    });
    match (key2print::gateway_verify(&secret, pairs(&params)), key_note) {
        (Ok(()), None) => Ok(Report::valid(format!(
            "sign over {}",
            escaped(&key2print::gateway_string(pairs(&params)))
        ))),
        (Ok(()), Some(note)) => Ok(Report::invalid(vec![note])),
        (Err(key2print::GatewayVerifyError::MissingSign), _) => Ok(Report::invalid(vec![
            "sign is missing from the query".to_owned(),
            format!(
                "expected: sign={}",
                key2print::gateway_sign(secret.expose(), pairs(&params))
            ),
        ])),
        (Err(key2print::GatewayVerifyError::Mismatch { expected, signed }), note) => {
            let mut lines = Vec::new();
            lines.extend(note);
            lines.push(
                "sign differs: check the API secret and every parameter (all but sign are signed)"
                    .to_owned(),
            );
            lines.push(format!("expected: sign={expected}"));
            lines.push(format!("string to sign: {}", escaped(&signed)));
            Ok(Report::invalid(lines))
        }
    }
}

fn woocommerce(a: &WooArgs, verify: bool) -> Result<Report, Usage> {
    use crate::woo::signature;
    let secret = resolve_secret("secret", &a.secret)?;
    let body = read_body(&a.body)?;
    let expected = signature::sign_as_woocommerce(secret.expose(), &body);
    if !verify {
        return Ok(Report::printed(vec![format!(
            "X-WC-Webhook-Signature: {expected}"
        )]));
    }
    let Some(presented) = a.signature.as_deref() else {
        return usage("--verify woocommerce needs --signature");
    };
    if signature::verify([&secret], &body, presented) {
        return Ok(Report::valid("X-WC-Webhook-Signature"));
    }
    let mut lines = vec![
        trailing_newline_hint(&body, |b| signature::verify([&secret], b, presented))
            .unwrap_or_else(|| {
                "signature differs: check the webhook secret and that the body is the raw delivery"
                    .to_owned()
            }),
    ];
    lines.push(format!("expected: {expected}"));
    Ok(Report::invalid(lines))
}
