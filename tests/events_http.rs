//! Events through the real app: the users context publishes through its
//! outbox, `/metrics` reports the relays, and operators list and replay dead
//! letters over HTTP and from the CLI.

mod support;

use kernel::events::HandlerError;
use serde_json::Value;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use support::{TestApp, unique_email};
use users_api::events::UserRegistered;

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric(text: &str, name: &str, context: &str) -> Option<f64> {
    let prefix = format!("{name}{{context=\"{context}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|value| value.parse().ok())
}

fn fast_retries(settings: &mut tienda::Settings) {
    settings.events.max_attempts = 2;
    settings.events.retry_base_ms = 10;
    settings.events.sweep_interval_ms = 20;
}

#[test]
fn a_subscriber_receives_the_typed_event_once() {
    let received: Arc<std::sync::Mutex<Vec<UserRegistered>>> = Arc::default();
    let app = TestApp::spawn_with(Arc::new(kernel::SystemClock), fast_retries);
    let sink = received.clone();
    let users_db = app.shop.database("users").expect("users db").clone();
    app.shop.bus.subscribe::<UserRegistered, _>("test.welcome_mail", users_db, move |_conn, event, _| {
        sink.lock().expect("sink").push(event);
        Ok(())
    });
    let email = unique_email("typed");
    let account = app.sign_up(&email);
    wait_for("the UserRegistered delivery", || !received.lock().expect("sink").is_empty());
    std::thread::sleep(Duration::from_millis(100));
    let events = received.lock().expect("sink").clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].email, email);
    assert_eq!(events[0].user_id.to_string(), account["id"].as_str().expect("id"));

    // Deliveries are counted once the relay marks them, just after the handler.
    wait_for("the delivery to be counted", || {
        metric(&app.get("/metrics", None).text, "tienda_events_delivered_total", "users").unwrap_or(0.0) >= 1.0
    });
    let metrics = app.get("/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").unwrap_or("").starts_with("text/plain"));
    assert!(metric(&metrics.text, "tienda_events_relayed_total", "users").expect("relayed") >= 1.0, "{}", metrics.text);
    assert!(metric(&metrics.text, "tienda_events_delivered_total", "users").expect("delivered") >= 1.0);
    wait_for("the outbox to drain", || {
        metric(&app.get("/metrics", None).text, "tienda_outbox_oldest_pending_seconds", "users") == Some(0.0)
    });
}

#[test]
fn dead_letters_are_listed_and_replayed_by_admins_over_http_and_the_cli() {
    let app = TestApp::spawn_with(Arc::new(kernel::SystemClock), fast_retries);
    let fixed = Arc::new(AtomicBool::new(false));
    let applied = Arc::new(AtomicU32::new(0));
    let (is_fixed, count) = (fixed.clone(), applied.clone());
    let users_db = app.shop.database("users").expect("users db").clone();
    app.shop.bus.subscribe::<UserRegistered, _>("test.flaky_crm_sync", users_db, move |_conn, _event, _| {
        if !is_fixed.load(Ordering::SeqCst) {
            return Err(HandlerError::Failed("CRM is down".into()));
        }
        count.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let admin = app.admin(&unique_email("ops"));
    let customer = app.customer(&unique_email("shopper"));

    let list = || app.get("/api/v1/admin/events/dead-letters", Some(&admin.access));
    wait_for("two dead letters (admin's and customer's sign-ups)", || {
        list().json()["items"].as_array().map(Vec::len) == Some(2)
    });
    let body = list().json();
    let first = &body["items"][0];
    assert_eq!(first["context"], "users");
    assert_eq!(first["event_name"], "users.UserRegistered.v1");
    assert_eq!(first["subscriber"], "test.flaky_crm_sync");
    assert_eq!(first["attempts"], 2);
    assert_eq!(first["last_error"], "CRM is down");
    let event_id = first["event_id"].as_str().expect("id").to_owned();

    app.get("/api/v1/admin/events/dead-letters", None).expect(401);
    app.get("/api/v1/admin/events/dead-letters", Some(&customer.access)).expect(403);
    app.post(&format!("/api/v1/admin/events/{event_id}/replay"), Some(&customer.access), Value::Null).expect(403);
    app.post(&format!("/api/v1/admin/events/{}/replay", uuid::Uuid::now_v7()), Some(&admin.access), Value::Null)
        .expect(404);
    app.post("/api/v1/admin/events/not-an-id/replay", Some(&admin.access), Value::Null).expect(404);

    // The CLI sees the same dead letters.
    let cli = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tienda"));
        command.args(args).env("TIENDA_AUTH__PASSWORD_HASHING", "insecure-test-only").env_remove("DATABASE_URL");
        for (key, value) in app.cli_env() {
            command.env(key, value);
        }
        command.output().expect("run tienda")
    };
    let listed = cli(&["events", "dead-letters"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains(&event_id) && text.contains("CRM is down"), "{text}");

    fixed.store(true, Ordering::SeqCst);
    let replayed = app.post(&format!("/api/v1/admin/events/{event_id}/replay"), Some(&admin.access), Value::Null);
    replayed.expect(202);
    assert_eq!(replayed.json()["replayed"], 1);
    wait_for("the replayed delivery", || applied.load(Ordering::SeqCst) == 1);
    assert_eq!(list().json()["items"].as_array().map(Vec::len), Some(1));

    let second = list().json()["items"][0]["event_id"].as_str().expect("id").to_owned();
    let replayed = cli(&["events", "replay", &second]);
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    wait_for("the CLI-replayed delivery", || applied.load(Ordering::SeqCst) == 2);
    assert!(!cli(&["events", "replay", &second]).status.success(), "nothing left to replay");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(applied.load(Ordering::SeqCst), 2, "each replay applied once");
}
