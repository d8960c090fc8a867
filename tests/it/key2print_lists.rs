//! The plugin's Key2print lists (`GET /v1/stores/{store}/key2print/template-formats`,
//! `/templates`, `/placeholders`) against the Key2print sandbox, which verifies the WEBAPI
//! `api-sign` of every call and answers the list methods as the document shows them.

use crate::sandbox::k2p_client;
use crate::support;
use crate::support::{Backend, STORE_TOKEN, TestApp, sandbox_store};
use printbridge::providers::key2print::{Key2printClient, NewPlaceholder, NewTemplateFormat};
use printbridge::sandbox::{Fault, Sandbox};
use serde_json::{Value, json};

async fn start(backend: Backend) -> (TestApp, Sandbox) {
    let sb = support::start_sandbox().await;
    let store = sandbox_store(&sb, "shop", "s3cret");
    let app = TestApp::spawn(backend, |c| {
        c.stores = vec![store, support::store_config("plain", "x")];
    })
    .await;
    (app, sb)
}

async fn add_format(k: &Key2printClient, name: &str, width: u32, height: u32) -> String {
    k.add_template_format(&NewTemplateFormat {
        name: name.into(),
        description: None,
        page_width: width,
        page_height: height,
        page_bleed: 5,
        mark_as_default: Some(false),
    })
    .await
    .expect("template_format/add")
    .id
}

async fn add_placeholder(k: &Key2printClient, name: &str, system_name: &str) {
    k.add_placeholder(&NewPlaceholder {
        name: name.into(),
        system_name: system_name.into(),
        kind: "text".into(),
    })
    .await
    .expect("placeholder/add");
}

fn list_calls(sb: &Sandbox, call: &str) -> usize {
    sb.state.calls().iter().filter(|c| c.call == call).count()
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| e[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Two formats, three templates, two placeholders; returns the A5 format's id.
async fn seed(sb: &Sandbox) -> String {
    let k = k2p_client(sb, &sb.state.credentials.key2print_api_secret);
    let a4 = add_format(&k, "Page A4", 210, 297).await;
    let a5 = add_format(&k, "Page A5", 148, 210).await;
    sb.state.add_key2print_template(&a5, "Flyer 1").unwrap();
    sb.state.add_key2print_template(&a5, "Flyer 2").unwrap();
    sb.state.add_key2print_template(&a4, "Poster").unwrap();
    add_placeholder(&k, "Your company name", "company_name").await;
    add_placeholder(&k, "Phone number", "phone").await;
    a5
}

async fn lists_come_from_key2print_and_are_cached(backend: Backend) {
    let (app, sb) = start(backend).await;
    let a5 = seed(&sb).await;

    let (status, formats) = app
        .store_get("/v1/stores/shop/key2print/template-formats", STORE_TOKEN)
        .await;
    assert_eq!(status, 200, "{formats}");
    let list = &formats["template_formats"];
    assert_eq!(names(list, "name"), ["Page A4", "Page A5"]);
    assert_eq!(list[1]["id"], json!(a5));
    assert_eq!(list[1]["page_width"], json!(148));
    assert_eq!(list[1]["template_count"], json!(2));
    assert_eq!(formats["truncated"], json!(false));

    let (status, all) = app
        .store_get("/v1/stores/shop/key2print/templates", STORE_TOKEN)
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        names(&all["templates"], "name"),
        ["Flyer 1", "Flyer 2", "Poster"]
    );
    assert_eq!(all["templates"][0]["template_format_id"], json!(a5));
    assert_eq!(
        all["templates"][0]["template_format_name"],
        json!("Page A5")
    );
    let path = format!("/v1/stores/shop/key2print/templates?template_format_id={a5}");
    let (status, of_a5) = app.store_get(&path, STORE_TOKEN).await;
    assert_eq!(status, 200, "{of_a5}");
    assert_eq!(names(&of_a5["templates"], "name"), ["Flyer 1", "Flyer 2"]);

    let (status, ph) = app
        .store_get("/v1/stores/shop/key2print/placeholders", STORE_TOKEN)
        .await;
    assert_eq!(status, 200, "{ph}");
    assert_eq!(
        names(&ph["placeholders"], "system_name"),
        ["company_name", "phone"]
    );
    assert_eq!(ph["placeholders"][0]["type"], json!("text"));
    assert_eq!(
        ph["placeholders"][0]["accepted_parameters"],
        json!(["value"])
    );

    // A second read within the minute comes from the bridge's cache; refresh reads again.
    let k = k2p_client(&sb, &sb.state.credentials.key2print_api_secret);
    add_placeholder(&k, "Email", "email").await;
    let before = list_calls(&sb, "placeholder/list");
    let (_, cached) = app
        .store_get("/v1/stores/shop/key2print/placeholders", STORE_TOKEN)
        .await;
    assert_eq!(names(&cached["placeholders"], "system_name").len(), 2);
    assert_eq!(list_calls(&sb, "placeholder/list"), before);
    let path = "/v1/stores/shop/key2print/placeholders?refresh=true";
    let (status, fresh) = app.store_get(path, STORE_TOKEN).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(
        names(&fresh["placeholders"], "system_name"),
        ["company_name", "phone", "email"]
    );
    assert_eq!(list_calls(&sb, "placeholder/list"), before + 1);
    assert_eq!(sb.state.stats().rejected_signatures, 0);
    app.stop().await;
    sb.stop();
}
on_both_backends!(lists, lists_come_from_key2print_and_are_cached);

#[tokio::test]
async fn list_requests_are_checked() {
    let (app, sb) = start(Backend::Sqlite).await;
    let path = "/v1/stores/shop/key2print/template-formats";
    let (status, p) = app.store_get(path, "wrong-token").await;
    assert_eq!(
        (status, p["field"].as_str()),
        (401, Some("Authorization")),
        "{p}"
    );
    let (status, p) = app
        .store_get("/v1/stores/plain/key2print/placeholders", STORE_TOKEN)
        .await;
    assert_eq!(
        (status, p["error"].as_str(), p["field"].as_str()),
        (409, Some("key2print_not_configured"), Some("store")),
        "{p}"
    );
    let bad = "/v1/stores/shop/key2print/templates?template_format_id=a%2Fb";
    let (status, p) = app.store_get(bad, STORE_TOKEN).await;
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("template_format_id")),
        "{p}"
    );
    assert_eq!(list_calls(&sb, "project/list"), 0);

    // Key2print failing: a 502 naming the list, without Key2print's address or secret.
    sb.state.push_faults(
        "key2print",
        [Fault {
            status: 500,
            ..Default::default()
        }],
    );
    let (status, p) = app.store_get(path, STORE_TOKEN).await;
    assert_eq!(
        (status, p["error"].as_str()),
        (502, Some("provider_error")),
        "{p}"
    );
    let text = p.to_string();
    assert!(text.contains("template formats"), "{p}");
    assert!(text.contains("HTTP 500"), "{p}");
    assert!(!text.contains(&sb.key2print_url()), "{p}");
    assert!(!text.contains(&sb.key2print_addr.port().to_string()), "{p}");
    assert!(
        !text.contains(&sb.state.credentials.key2print_api_secret),
        "{p}"
    );

    // A failed read is not cached: the next read reaches Key2print.
    let (status, ok) = app.store_get(path, STORE_TOKEN).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["template_formats"], json!([]));

    // Key2print down: still no address in the answer.
    let url = sb.key2print_url();
    sb.stop();
    let (status, p) = app
        .store_get("/v1/stores/shop/key2print/placeholders", STORE_TOKEN)
        .await;
    assert_eq!(
        (status, p["error"].as_str()),
        (502, Some("provider_error")),
        "{p}"
    );
    assert!(!p.to_string().contains(&url), "{p}");
    app.stop().await;
}

#[tokio::test]
async fn long_lists_are_cut_at_500() {
    let (app, sb) = start(Backend::Sqlite).await;
    let k = k2p_client(&sb, &sb.state.credentials.key2print_api_secret);
    for n in 0..501 {
        add_placeholder(&k, &format!("Field {n}"), &format!("field_{n}")).await;
    }
    let (status, ph) = app
        .store_get("/v1/stores/shop/key2print/placeholders", STORE_TOKEN)
        .await;
    assert_eq!(status, 200);
    let list = ph["placeholders"].as_array().unwrap();
    assert_eq!(list.len(), 500);
    assert_eq!(list[499]["system_name"], json!("field_499"));
    assert_eq!(ph["truncated"], json!(true));
    // 100 a page: five pages, and no sixth.
    assert_eq!(list_calls(&sb, "placeholder/list"), 5);
    app.stop().await;
    sb.stop();
}

#[tokio::test]
async fn the_sandbox_adds_templates_by_format_name() {
    let (app, sb) = start(Backend::Sqlite).await;
    let add = |template: &'static str| {
        let url = format!("{}/_sandbox/key2print/templates", sb.key2print_url());
        let client = app.client.clone();
        async move {
            let body = json!({"format_name": "Card 85x55", "template_name": template});
            let r = client.post(url).json(&body).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let first = add("Classic").await;
    let second = add("Modern").await;
    assert_eq!(first["template_format_id"], second["template_format_id"]);
    let (_, formats) = app
        .store_get("/v1/stores/shop/key2print/template-formats", STORE_TOKEN)
        .await;
    assert_eq!(names(&formats["template_formats"], "name"), ["Card 85x55"]);
    assert_eq!(formats["template_formats"][0]["template_count"], json!(2));
    let (_, templates) = app
        .store_get("/v1/stores/shop/key2print/templates", STORE_TOKEN)
        .await;
    assert_eq!(
        names(&templates["templates"], "id"),
        [
            first["template_id"].as_str().unwrap(),
            second["template_id"].as_str().unwrap()
        ]
    );
    app.stop().await;
    sb.stop();
}
