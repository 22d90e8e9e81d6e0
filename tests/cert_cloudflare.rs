//! The cloudflare provider against a local stand-in of the v4 DNS records API.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use dsprov::cert::dns::{self, DnsProviderConfig};
use serde_json::{json, Value};

const TOKEN: &str = "cf-scoped-test-token-0123456789";

#[derive(Default)]
struct Api {
    records: Mutex<Vec<Value>>,
    next_id: Mutex<u32>,
}

type Shared = State<Arc<Api>>;
type Reply = (StatusCode, Json<Value>);

fn ok(result: Value) -> Reply {
    (
        StatusCode::OK,
        Json(json!({ "success": true, "errors": [], "messages": [], "result": result })),
    )
}

fn fail(status: StatusCode, code: u32, message: &str) -> Reply {
    (
        status,
        Json(
            json!({ "success": false, "errors": [{ "code": code, "message": message }],
            "messages": [], "result": null }),
        ),
    )
}

/// Bearer token check, as the real API does for API tokens.
fn authorized(headers: &HeaderMap) -> Result<(), Reply> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(v) if v == format!("Bearer {TOKEN}") => Ok(()),
        _ => Err(fail(StatusCode::FORBIDDEN, 10000, "Authentication error")),
    }
}

async fn zones(headers: HeaderMap, Query(q): Query<Vec<(String, String)>>) -> Reply {
    if let Err(r) = authorized(&headers) {
        return r;
    }
    let name = q.iter().find(|(k, _)| k == "name").map(|(_, v)| v.as_str());
    let zones: Vec<Value> = [("023e105f4ecef8ad9ca31a8372d0c353", "example.test")]
        .iter()
        .filter(|(_, z)| name.is_none_or(|n| n == *z))
        .map(|(id, z)| json!({ "id": id, "name": z, "status": "active" }))
        .collect();
    ok(json!(zones))
}

async fn list_records(State(api): Shared, headers: HeaderMap, Path(zone): Path<String>) -> Reply {
    if let Err(r) = authorized(&headers) {
        return r;
    }
    let records = api.records.lock().unwrap();
    ok(json!(records
        .iter()
        .filter(|r| r["zone_id"] == zone.as_str())
        .collect::<Vec<_>>()))
}

async fn create_record(
    State(api): Shared,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Json(body): Json<Value>,
) -> Reply {
    if let Err(r) = authorized(&headers) {
        return r;
    }
    if body["type"] != "TXT" || !body["name"].is_string() || !body["content"].is_string() {
        return fail(
            StatusCode::BAD_REQUEST,
            9005,
            "Content for TXT record is invalid.",
        );
    }
    let mut next = api.next_id.lock().unwrap();
    *next += 1;
    let record = json!({
        "id": format!("rec{next}"), "zone_id": zone, "type": "TXT",
        "name": body["name"], "content": body["content"], "ttl": body["ttl"],
    });
    api.records.lock().unwrap().push(record.clone());
    ok(record)
}

async fn delete_record(
    State(api): Shared,
    headers: HeaderMap,
    Path((zone, id)): Path<(String, String)>,
) -> Reply {
    if let Err(r) = authorized(&headers) {
        return r;
    }
    let mut records = api.records.lock().unwrap();
    let before = records.len();
    records.retain(|r| !(r["zone_id"] == zone.as_str() && r["id"] == id.as_str()));
    if records.len() == before {
        return fail(StatusCode::NOT_FOUND, 81044, "Record does not exist.");
    }
    ok(json!({ "id": id }))
}

/// Serves the stand-in on an ephemeral loopback port; returns its API base URL.
async fn serve(api: Arc<Api>) -> String {
    let app = Router::new()
        .route("/client/v4/zones", get(zones))
        .route(
            "/client/v4/zones/{zone}/dns_records",
            get(list_records).post(create_record),
        )
        .route(
            "/client/v4/zones/{zone}/dns_records/{id}",
            delete(delete_record),
        )
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/client/v4")
}

fn provider(base: &str, token: &str, zone: Option<&str>) -> Box<dyn dns::DnsProvider> {
    let config: DnsProviderConfig = serde_json::from_value(json!({
        "provider": "cloudflare", "api_token": token, "zone": zone, "api_base": base,
    }))
    .unwrap();
    assert!(
        !format!("{config:?}").contains(token),
        "token in Debug output"
    );
    dns::provider(&config).unwrap()
}

#[tokio::test]
async fn creates_and_deletes_txt_records() {
    let api = Arc::new(Api::default());
    let base = serve(api.clone()).await;
    // No zone configured: found by walking up the record's labels.
    let cf = provider(&base, TOKEN, None);

    let one = cf
        .set_txt("_acme-challenge.mx1.example.test.", "token-one")
        .await
        .unwrap();
    let two = cf
        .set_txt("_acme-challenge.mx2.example.test", "token-two")
        .await
        .unwrap();
    {
        let records = api.records.lock().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["name"], "_acme-challenge.mx1.example.test");
        assert_eq!(records[0]["content"], "token-one");
        assert_eq!(records[0]["zone_id"], "023e105f4ecef8ad9ca31a8372d0c353");
    }

    cf.clear_txt(&one).await.unwrap();
    assert_eq!(api.records.lock().unwrap().len(), 1);
    cf.clear_txt(&two).await.unwrap();
    assert!(api.records.lock().unwrap().is_empty());

    // Deleting twice reports the API's own words and status.
    let err = cf.clear_txt(&two).await.unwrap_err().to_string();
    assert!(
        err.contains("404") && err.contains("Record does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_token_is_a_clear_error_without_the_token() {
    let api = Arc::new(Api::default());
    let base = serve(api.clone()).await;
    let wrong = "cf-wrong-token-abcdefghijklmnop";
    let err = provider(&base, wrong, Some("example.test"))
        .set_txt("_acme-challenge.mail.example.test", "v")
        .await
        .unwrap_err()
        .to_string();
    eprintln!("wrong token: {err}");
    assert!(
        err.contains("403") && err.contains("Authentication error"),
        "{err}"
    );
    assert!(!err.contains(wrong) && !err.contains(TOKEN), "{err}");
    assert!(api.records.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_zone_is_named() {
    let base = serve(Arc::new(Api::default())).await;
    let err = provider(&base, TOKEN, None)
        .set_txt("_acme-challenge.mail.other.test", "v")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no zone found") && err.contains("mail.other.test"),
        "{err}"
    );
}
