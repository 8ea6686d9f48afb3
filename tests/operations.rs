//! Operating the deployable: health checks, the OpenAPI document and its UI,
//! the CLI, and graceful shutdown of the real `tienda` binary.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{PASSWORD, TestApp, unique_email};

#[test]
fn liveness_and_readiness() {
    let app = TestApp::spawn();
    let live = app.get("/health/live", None);
    live.expect(200);
    assert_eq!(live.json()["status"], "ok");
    let ready = app.get("/health/ready", None);
    ready.expect(200);
    let body = ready.json();
    assert_eq!(body["status"], "ready");
    for context in ["users", "catalog", "orders", "support", "orchestration"] {
        assert_eq!(body["contexts"][context]["status"], "up", "{body}");
    }
}

#[test]
fn readiness_names_the_context_whose_database_is_down() {
    let app = TestApp::spawn();
    // Every catalog connection taken: to the readiness check the catalog's
    // database is as unreachable as a server that is down.
    let max = app.shop.settings.database.max_connections as usize;
    let catalog = app.shop.database("catalog").expect("catalog db");
    let _held: Vec<_> = (0..max).map(|_| catalog.conn().expect("conn")).collect();
    let ready = app.get("/health/ready", None);
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.header("content-type"), Some("application/problem+json"), "{:?} {}", ready.headers, ready.text);
    let body = ready.json();
    assert_eq!(body["code"], "not_ready");
    assert!(body["detail"].as_str().unwrap_or("").contains("catalog"), "{body}");
    assert_eq!(body["contexts"]["catalog"]["status"], "down");
    assert!(body["contexts"]["catalog"]["error"].is_string());
    assert_eq!(body["contexts"]["users"]["status"], "up");
    // The rest of the shop still serves.
    app.sign_up(&unique_email("still-up"));
}

#[test]
fn openapi_document_lists_every_endpoint_and_problem() {
    let app = TestApp::spawn();
    let reply = app.get("/api/openapi.json", None);
    reply.expect(200);
    let doc: Value = reply.json();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/users", "post"),
        ("/api/v1/users/me", "get"),
        ("/api/v1/users/me", "patch"),
        ("/api/v1/users/me", "delete"),
        ("/api/v1/users/me/password", "post"),
        ("/api/v1/users/me/sessions", "get"),
        ("/api/v1/users/me/sessions/{id}", "delete"),
        ("/api/v1/users/me/verification", "post"),
        ("/api/v1/users/verify", "post"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/sessions/refresh", "post"),
        ("/api/v1/sessions/current", "delete"),
        ("/api/v1/password-resets", "post"),
        ("/api/v1/password-resets/confirm", "post"),
        ("/api/v1/admin/users", "get"),
        ("/api/v1/admin/users/{id}", "patch"),
        ("/api/v1/catalog/products", "get"),
        ("/api/v1/catalog/products", "post"),
        ("/api/v1/catalog/products/{id}", "get"),
        ("/api/v1/catalog/products/{id}", "patch"),
        ("/api/v1/catalog/products/{id}", "delete"),
        ("/api/v1/catalog/products/{id}/images", "post"),
        ("/api/v1/catalog/products/{id}/images/{image_id}", "delete"),
        ("/api/v1/catalog/products/{id}/stock", "get"),
        ("/api/v1/catalog/products/{id}/stock", "post"),
        ("/api/v1/catalog/images/{file}", "get"),
        ("/api/v1/catalog/categories", "get"),
        ("/api/v1/catalog/categories", "post"),
        ("/api/v1/catalog/categories/{id}", "patch"),
        ("/api/v1/catalog/categories/{id}", "delete"),
        ("/api/v1/admin/events/dead-letters", "get"),
        ("/api/v1/admin/events/{event_id}/replay", "post"),
        ("/metrics", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
    ] {
        let operation = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[method];
        assert!(operation.is_object(), "{method} {path} missing");
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status} is not a problem document"
                );
            }
        }
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    insta::assert_json_snapshot!("openapi", doc);
}

#[test]
fn the_docs_ui_is_served_offline() {
    let app = TestApp::spawn();
    let page = app.get("/api/docs/", None);
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger-ui"), "{}", &page.text[..page.text.len().min(300)]);
    let redirect = app.get("/api/docs", None);
    assert_eq!(redirect.status, 200, "the bare path redirects to the UI");
    // The UI's own script comes from the binary, not from a CDN.
    let bundle = app.get("/api/docs/swagger-ui-bundle.js", None);
    assert_eq!(bundle.status, 200);
    assert!(bundle.text.len() > 100_000);
}

// ----- the real binary -----

fn tienda() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tienda"));
    command
        .env("TIENDA_AUTH__PASSWORD_HASHING", "insecure-test-only")
        .env("TIENDA_LOG_FORMAT", "json")
        .env_remove("DATABASE_URL")
        .env_remove("TIENDA_CONFIG");
    command
}

struct Running {
    child: Child,
    base_url: String,
    log: std::sync::mpsc::Receiver<String>,
}

/// Starts `tienda serve` on a random port and waits until it listens.
fn serve(data_dir: &std::path::Path, extra_env: &[(&str, &str)]) -> Running {
    let mut command = tienda();
    command
        .args(["--data-dir", &data_dir.display().to_string(), "serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start tienda");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    // From here on the guard kills the child if the test fails.
    let mut running = Running { child, base_url: String::new(), log };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = running.log.recv_timeout(Duration::from_secs(60)).expect("tienda exited before serving");
        let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if let Some(address) = event["http.address"].as_str() {
            running.base_url = format!("http://{address}");
            return running;
        }
        assert!(Instant::now() < deadline, "tienda did not start");
    }
}

impl Running {
    fn wait_for_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "tienda did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_cleanly() {
    let data = tempfile::tempdir().expect("tempdir");
    // Real (slow) password hashing, so a login is still in flight at SIGTERM.
    let running = serve(data.path(), &[("TIENDA_AUTH__PASSWORD_HASHING", "owasp")]);
    let email = unique_email("drain");
    let signup = ureq::post(&format!("{}/api/v1/users", running.base_url))
        .send_json(serde_json::json!({"email": email, "password": PASSWORD, "display_name": "Drain"}))
        .expect("sign up");
    assert_eq!(signup.status(), 201);

    let url = format!("{}/api/v1/sessions", running.base_url);
    let body = serde_json::json!({"email": email, "password": PASSWORD});
    let in_flight = std::thread::spawn(move || ureq::post(&url).send_json(body).map(|r| r.status()));
    // Long enough for the request to arrive, well short of the ~1 s that a
    // debug-build OWASP hash takes, so it is in flight at SIGTERM.
    std::thread::sleep(Duration::from_millis(250));
    sigterm(&running.child);
    assert_eq!(in_flight.join().expect("thread").expect("the in-flight login was answered"), 200);

    let mut running = running;
    let status = running.wait_for_exit(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    let log: Vec<String> = running.log.try_iter().collect();
    assert!(log.iter().any(|line| line.contains("shut down cleanly")), "{log:#?}");
}

#[test]
fn migrate_then_admin_create_from_stdin() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().display().to_string();
    let migrate = tienda().args(["--data-dir", &data_dir, "migrate"]).output().expect("migrate");
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("users: 2 migration(s) applied"));
    let again = tienda().args(["--data-dir", &data_dir, "migrate"]).output().expect("migrate again");
    assert!(String::from_utf8_lossy(&again.stdout).contains("users: 0 migration(s) applied"));

    let email = unique_email("cli-admin");
    let create = |password: &str| {
        let mut child = tienda()
            .args(["--data-dir", &data_dir, "admin", "create", "--email", &email])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("admin create");
        child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("write");
        child.wait_with_output().expect("output")
    };
    let weak = create("password123");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("too common"));
    let created = create(PASSWORD);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let duplicate = create(PASSWORD);
    assert!(!duplicate.status.success());

    // The new admin can use the admin API.
    let running = serve(data.path(), &[]);
    let login: Value = ureq::post(&format!("{}/api/v1/sessions", running.base_url))
        .send_json(serde_json::json!({"email": email, "password": PASSWORD}))
        .expect("login")
        .into_json()
        .expect("json");
    let token = login["access_token"].as_str().expect("token");
    let users = ureq::get(&format!("{}/api/v1/admin/users", running.base_url))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("admin list");
    assert_eq!(users.status(), 200);
    sigterm(&running.child);
    let mut running = running;
    assert!(running.wait_for_exit(Duration::from_secs(30)).success());
}

#[test]
fn the_signing_key_is_generated_once_and_private() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().display().to_string();
    tienda().args(["--data-dir", &data_dir, "migrate"]).output().expect("migrate");
    let key_file = data.path().join("secrets/signing.key");
    let first = std::fs::read_to_string(&key_file).expect("key written");
    tienda().args(["--data-dir", &data_dir, "migrate"]).output().expect("migrate");
    assert_eq!(std::fs::read_to_string(&key_file).expect("key"), first);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).expect("meta").permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_bad_configuration_fails_fast_with_a_clear_message() {
    let output = tienda().env("DATABASE_URL", "mysql://nope").args(["migrate"]).output().expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL must be a postgres:// URL"));
}

#[test]
fn seed_fills_the_catalog_and_adds_on_a_second_run() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().display().to_string();
    let run = |args: &[&str]| tienda().args(["--data-dir", &data_dir]).args(args).output().expect("seed");
    let first = run(&["seed", "--products", "25"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("seeded 25 products"));
    assert!(run(&["seed", "--products", "5"]).status.success(), "a second run must not collide on SKUs");
    assert!(!run(&["seed"]).status.success(), "seed needs --demo or --products");

    let running = serve(data.path(), &[]);
    let page: Value = ureq::get(&format!("{}/api/v1/catalog/products?limit=100", running.base_url))
        .call()
        .expect("search")
        .into_json()
        .expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(30));
    let tree: Value = ureq::get(&format!("{}/api/v1/catalog/categories", running.base_url))
        .call()
        .expect("tree")
        .into_json()
        .expect("json");
    assert_eq!(tree["items"].as_array().map(Vec::len), Some(3), "Audio, Computing, Home");
    sigterm(&running.child);
    let mut running = running;
    assert!(running.wait_for_exit(Duration::from_secs(30)).success());
}
