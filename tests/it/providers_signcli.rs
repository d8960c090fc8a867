//! `printbridge sign`: in-process over every signature vector, and through the built binary.

use std::io::Write as _;
use std::process::{Command, Stdio};

use clap::Parser;
use printbridge::providers::signcli::{SignArgs, run};
use serde_json::Value;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    Sign(SignArgs),
}

fn sign(args: &[&str]) -> (i32, String) {
    let mut argv = vec!["printbridge", "sign"];
    argv.extend_from_slice(args);
    let Cmd::Sign(parsed) = Cli::try_parse_from(argv).expect("valid command line").cmd;
    let mut out = Vec::new();
    let code = run(&parsed, &mut out).expect("runs");
    (code, String::from_utf8(out).expect("utf-8"))
}

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signatures.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cases(name: &str) -> Vec<Value> {
    vectors()[name].as_array().cloned().unwrap()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_owned()
}

fn body_file(body: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(body.as_bytes()).unwrap();
    f
}

#[test]
fn spiff_rest_prints_every_vector_and_verifies_it() {
    for (name, hash) in [("spiff", "sha512"), ("spiff_legacy_md5", "md5")] {
        for c in cases(name) {
            let f = body_file(&s(&c, "body"));
            let path = f.path().to_str().unwrap();
            let (ak, sk, date, p) = (
                s(&c, "access_key"),
                s(&c, "secret_key"),
                s(&c, "date"),
                s(&c, "path"),
            );
            let common = [
                "--access-key",
                &ak,
                "--secret-key",
                &sk,
                "--body-hash",
                hash,
                "--date",
                &date,
                "--path",
                &p,
                "--body-file",
                path,
            ];
            let mut args = vec!["spiff-rest"];
            args.extend_from_slice(&common);
            let (code, out) = sign(&args);
            assert_eq!(code, 0, "{out}");
            let auth = s(&c, "authorization");
            assert!(out.contains(&format!("Authorization: {auth}\n")), "{out}");
            assert!(out.contains(&format!("Date: {date}\n")));
            assert!(out.contains("Content-Type: application/json\n"));
            assert!(!out.contains(&sk), "the secret is never printed");

            let mut args = vec!["--verify", "spiff-rest", "--authorization", &auth];
            args.extend_from_slice(&common);
            let (code, out) = sign(&args);
            assert_eq!(code, 0, "{out}");
            assert!(out.starts_with("valid"));
        }
    }
}

#[test]
fn spiff_rest_verify_names_the_body_hash_and_the_date() {
    let c = &cases("spiff_legacy_md5")[0];
    let f = body_file(&s(c, "body"));
    let (ak, sk, auth) = (
        s(c, "access_key"),
        s(c, "secret_key"),
        s(c, "authorization"),
    );
    let base = |date: &str| {
        sign(&[
            "--verify",
            "spiff-rest",
            "--access-key",
            &ak,
            "--secret-key",
            &sk,
            "--date",
            date,
            "--authorization",
            &auth,
            "--body-file",
            f.path().to_str().unwrap(),
        ])
    };
    let (code, out) = base(&s(c, "date"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("body hash differs: the signature was made with --body-hash md5"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "expected: {}",
            s(&cases("spiff")[0], "authorization")
        )),
        "{out}"
    );
    assert!(!out.contains(&sk));
    let (code, out) = base("Tue, 24 Apr 2012 12:45:19 GMT");
    assert_eq!(code, 1);
    assert!(out.contains("signature differs"), "{out}");
    assert!(
        out.contains("Tue, 24 Apr 2012"),
        "the string to sign is shown: {out}"
    );
}

#[test]
fn apliiq_prints_every_vector_and_verifies_it() {
    for c in cases("apliiq") {
        let f = body_file(&s(&c, "body"));
        let path = f.path().to_str().unwrap();
        let (app, sec, rts, state, auth) = (
            s(&c, "app_id"),
            s(&c, "shared_secret"),
            s(&c, "rts"),
            s(&c, "state"),
            s(&c, "authorization"),
        );
        let (code, out) = sign(&[
            "apliiq",
            "--app-id",
            &app,
            "--shared-secret",
            &sec,
            "--rts",
            &rts,
            "--state",
            &state,
            "--body-file",
            path,
        ]);
        assert_eq!(code, 0);
        assert!(out.contains(&format!("Authorization: {auth}\n")), "{out}");
        assert!(out.contains("Accept: application/json\n"));
        assert!(!out.contains(&sec));
        let (code, out) = sign(&[
            "--verify",
            "apliiq",
            "--app-id",
            &app,
            "--shared-secret",
            &sec,
            "--authorization",
            &auth,
            "--body-file",
            path,
        ]);
        assert_eq!(code, 0, "{out}");
        let (code, out) = sign(&[
            "--verify",
            "apliiq",
            "--app-id",
            "someone-else",
            "--shared-secret",
            &sec,
            "--authorization",
            &auth,
            "--body-file",
            path,
        ]);
        assert_eq!(code, 1);
        assert!(out.contains("app id differs"), "{out}");
    }
}

#[test]
fn apliiq_callback_verify_spots_a_trailing_newline() {
    for c in cases("apliiq_fulfillment_callback") {
        let (sec, hmac) = (s(&c, "shared_secret"), s(&c, "x_apliiq_hmac"));
        let (code, out) = sign(&[
            "apliiq-callback",
            "--shared-secret",
            &sec,
            "--body",
            &s(&c, "body"),
        ]);
        assert_eq!(code, 0);
        assert_eq!(out, format!("x-apliiq-hmac: {hmac}\n"));
        let (code, _) = sign(&[
            "--verify",
            "apliiq-callback",
            "--shared-secret",
            &sec,
            "--hmac",
            &hmac,
            "--body",
            &s(&c, "body"),
        ]);
        assert_eq!(code, 0);
        let f = body_file(&format!("{}\n", s(&c, "body")));
        let (code, out) = sign(&[
            "--verify",
            "apliiq-callback",
            "--shared-secret",
            &sec,
            "--hmac",
            &hmac,
            "--body-file",
            f.path().to_str().unwrap(),
        ]);
        assert_eq!(code, 1);
        assert!(out.contains("trailing newline"), "{out}");
        assert!(out.contains("expected: "), "{out}");
        assert!(!out.contains(&sec));
    }
}

#[test]
fn key2print_webapi_vectors_and_a_wrong_method() {
    for c in cases("key2print_webapi") {
        let (key, sec, m, sig) = (
            s(&c, "api_key"),
            s(&c, "api_secret"),
            s(&c, "method"),
            s(&c, "api_sign"),
        );
        let body = s(&c, "body");
        let (code, out) = sign(&[
            "key2print",
            "--api-key",
            &key,
            "--api-secret",
            &sec,
            "--method",
            &m,
            "--body",
            &body,
        ]);
        assert_eq!(code, 0);
        assert!(
            out.contains(&format!("api-key: {key}\napi-sign: {sig}\n")),
            "{out}"
        );
        let (code, _) = sign(&[
            "--verify",
            "key2print",
            "--api-key",
            &key,
            "--api-secret",
            &sec,
            "--method",
            &m,
            "--api-sign",
            &sig,
            "--body",
            &body,
        ]);
        assert_eq!(code, 0);
        if m == "GET" {
            let (code, out) = sign(&[
                "--verify",
                "key2print",
                "--api-key",
                &key,
                "--api-secret",
                &sec,
                "--method",
                "POST",
                "--api-sign",
                &sig,
                "--body",
                "",
            ]);
            assert_eq!(code, 1);
            assert!(out.contains("method differs"), "{out}");
        }
    }
}

fn query_of(c: &Value) -> String {
    c["query"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .as_str()
                .unwrap()
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[test]
fn key2print_gateway_vectors_sign_and_verify() {
    for c in cases("key2print_gateway") {
        let sec = s(&c, "api_secret");
        let q = query_of(&c);
        let (code, out) = sign(&["key2print-gateway", "--api-secret", &sec, "--query", &q]);
        assert_eq!(code, 0);
        assert!(
            out.starts_with(&format!("sign={}\n", s(&c, "sign"))),
            "{out}"
        );
        let url = format!("https://bridge.example.com/v1/key2print/shop/gateway/price?{q}");
        let key = c["query"]["key"].as_str().unwrap().to_owned();
        let (code, out) = sign(&[
            "--verify",
            "key2print-gateway",
            "--api-secret",
            &sec,
            "--query",
            &url,
            "--api-key",
            &key,
        ]);
        assert_eq!(code, 0, "{out}");
        let (code, out) = sign(&[
            "--verify",
            "key2print-gateway",
            "--api-secret",
            &sec,
            "--query",
            &q,
            "--api-key",
            "other",
        ]);
        assert_eq!(code, 1);
        assert!(out.contains("key differs"), "{out}");
        let tampered = q.replace("tstamp=17", "tstamp=18");
        let (code, out) = sign(&[
            "--verify",
            "key2print-gateway",
            "--api-secret",
            &sec,
            "--query",
            &tampered,
        ]);
        assert_eq!(code, 1);
        assert!(out.contains("sign differs"), "{out}");
        assert!(out.contains("tstamp=18"), "shows the signed string: {out}");
        assert!(!out.contains(&sec));
    }
}

#[test]
fn woocommerce_vectors_sign_and_verify() {
    for c in cases("woocommerce_webhook") {
        let (sec, sig, body) = (s(&c, "secret"), s(&c, "signature"), s(&c, "body"));
        let f = body_file(&body);
        let path = f.path().to_str().unwrap();
        let (code, out) = sign(&["woocommerce", "--secret", &sec, "--body-file", path]);
        assert_eq!(code, 0);
        assert_eq!(out, format!("X-WC-Webhook-Signature: {sig}\n"));
        let (code, out) = sign(&[
            "--verify",
            "woocommerce",
            "--secret",
            &sec,
            "--signature",
            &sig,
            "--body-file",
            path,
        ]);
        assert_eq!((code, out.starts_with("valid")), (0, true), "{out}");
        let (code, out) = sign(&[
            "--verify",
            "woocommerce",
            "--secret",
            "wrong",
            "--signature",
            &sig,
            "--body-file",
            path,
        ]);
        assert_eq!(code, 1);
        assert!(out.contains("signature differs"), "{out}");
        assert!(out.contains("expected: "));
    }
}

#[test]
fn secrets_from_files_and_usage_errors() {
    let c = &cases("woocommerce_webhook")[0];
    let secret_file = body_file(&format!("{}\n", s(c, "secret")));
    let secret_ref = format!("file:{}", secret_file.path().display());
    let (code, out) = sign(&[
        "--verify",
        "woocommerce",
        "--secret",
        &secret_ref,
        "--signature",
        &s(c, "signature"),
        "--body",
        &s(c, "body"),
    ]);
    assert_eq!(code, 0, "{out}");

    let (code, out) = sign(&[
        "--verify",
        "woocommerce",
        "--secret",
        "env:PRINTBRIDGE_TEST_SURELY_UNSET",
        "--signature",
        "x",
        "--body",
        "{}",
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("PRINTBRIDGE_TEST_SURELY_UNSET"), "{out}");
    let (code, out) = sign(&["--verify", "woocommerce", "--secret", "s", "--body", "{}"]);
    assert_eq!(code, 2);
    assert!(out.contains("--signature"), "{out}");
    let (code, _) = sign(&["--verify", "spiff-graphql", "--application-key", "k"]);
    assert_eq!(code, 2);
    let (code, out) = sign(&[
        "woocommerce",
        "--secret",
        "s",
        "--body-file",
        "/nonexistent/printbridge/body.json",
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("cannot read"), "{out}");
}

#[test]
fn the_binary_reads_the_body_from_stdin_and_secrets_from_env() {
    let c = &cases("spiff")[1];
    let mut child = Command::new(env!("CARGO_BIN_EXE_printbridge"))
        .args([
            "sign",
            "spiff-rest",
            "--access-key",
            &s(c, "access_key"),
            "--secret-key",
            "env:PB_TEST_SPIFF_SECRET",
            "--date",
            &s(c, "date"),
            "--path",
            &s(c, "path"),
        ])
        .env("PB_TEST_SPIFF_SECRET", s(c, "secret_key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(s(c, "body").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(
        out.contains(&format!("Authorization: {}\n", s(c, "authorization"))),
        "{out}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_printbridge"))
        .args([
            "sign",
            "--verify",
            "apliiq-callback",
            "--shared-secret",
            "k",
            "--hmac",
            "AAAA",
            "--body",
            "{}",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("expected: "));

    let output = Command::new(env!("CARGO_BIN_EXE_printbridge"))
        .args(["sign", "no-such-provider"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
