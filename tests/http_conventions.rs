//! DESIGN.md §6 over the wire: every client mistake is a 4xx problem
//! document, never a 500 or a dropped connection; odd input is kept verbatim.

mod support;

use serde_json::json;
use support::{PASSWORD, TestApp, unique_email};

#[test]
fn bad_bodies_are_problems_not_crashes() {
    let app = TestApp::spawn();
    let json_type = "application/json";
    let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        ("malformed JSON", b"{\"email\": ".to_vec(), json_type, 400, "malformed_json"),
        ("not JSON at all", b"hello".to_vec(), json_type, 400, "malformed_json"),
        (
            "wrong type",
            br#"{"email": 42, "password": "x", "display_name": "A"}"#.to_vec(),
            json_type,
            400,
            "invalid_body",
        ),
        ("array instead of object", b"[]".to_vec(), json_type, 400, "invalid_body"),
        (
            "unknown field",
            br#"{"email": "a@b.co", "password": "x", "display_name": "A", "admin": true}"#.to_vec(),
            json_type,
            400,
            "invalid_body",
        ),
        ("empty body", Vec::new(), json_type, 400, "malformed_json"),
        ("wrong content type", br#"{"email": "a@b.co"}"#.to_vec(), "text/plain", 415, "unsupported_media_type"),
        ("missing fields", b"{}".to_vec(), json_type, 422, "validation_failed"),
        ("oversized body", vec![b' '; 1024 * 1024 + 1], json_type, 413, "payload_too_large"),
    ];
    for (name, body, content_type, status, code) in cases {
        let reply = app.call_raw("POST", "/api/v1/users", None, content_type, &body);
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
        reply.expect(status);
        assert_eq!(reply.problem_code(), code, "{name}");
    }
    // Nothing was created by any of them.
    let admin = app.admin(&unique_email("admin"));
    let accounts = app.get("/api/v1/admin/users", Some(&admin.access)).json();
    assert_eq!(accounts["items"].as_array().map(Vec::len), Some(1));
}

#[test]
fn missing_fields_are_named() {
    let app = TestApp::spawn();
    let reply = app.post("/api/v1/users", None, json!({}));
    reply.expect(422);
    let fields: Vec<String> = reply.field_errors().into_iter().map(|(field, _)| field).collect();
    assert_eq!(fields, vec!["display_name", "email", "password"]);
    insta::assert_json_snapshot!("missing_fields_problem", reply.json());
}

#[test]
fn odd_unicode_and_sql_looking_input_is_kept_verbatim() {
    let app = TestApp::spawn();
    let names = [
        "Robert'); DROP TABLE accounts;--",
        "1' OR '1'='1",
        "Zoë 🚀 \u{202e}reversed\u{202c}",
        "山田 太郎",
        "e\u{301}mile (combining accent)",
        "%_\\ wildcards",
    ];
    for name in names {
        let email = unique_email("odd");
        let reply =
            app.post("/api/v1/users", None, json!({"email": email, "password": PASSWORD, "display_name": name}));
        reply.expect(201);
        assert_eq!(reply.json()["display_name"], name);
        let tokens = app.log_in(&email);
        assert_eq!(app.get("/api/v1/users/me", Some(&tokens.access)).json()["display_name"], name);
    }
    // LIKE wildcards in a filter match literally.
    let admin = app.admin(&unique_email("admin"));
    let listed = app.get("/api/v1/admin/users?email=%25", Some(&admin.access));
    listed.expect(200);
    assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(0));
    // A SQL-looking email is just an invalid email.
    let reply = app.post(
        "/api/v1/users",
        None,
        json!({"email": "x' OR 1=1 --@example.com", "password": PASSWORD, "display_name": "A"}),
    );
    reply.expect(422);
}

#[test]
fn unknown_routes_methods_and_ids_are_problems() {
    let app = TestApp::spawn();
    let reply = app.get("/api/v1/nothing-here", None);
    reply.expect(404);
    insta::assert_json_snapshot!("unknown_route_problem", reply.json());
    app.call("PUT", "/api/v1/users", None, None).expect(405);
    let tokens = app.customer(&unique_email("ids"));
    app.delete("/api/v1/users/me/sessions/%00", Some(&tokens.access)).expect(404);
}

#[test]
fn authentication_failures_are_401_problems() {
    let app = TestApp::spawn();
    for header in ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "bearer x.y.z"] {
        let mut request = ureq::get(&format!("{}/api/v1/users/me", app.base_url));
        if !header.is_empty() {
            request = request.set("Authorization", header);
        }
        let status = match request.call() {
            Ok(response) => response.status(),
            Err(ureq::Error::Status(status, response)) => {
                assert_eq!(response.content_type(), "application/problem+json");
                status
            }
            Err(error) => panic!("{error}"),
        };
        assert_eq!(status, 401, "Authorization: {header:?}");
    }
    let reply = app.get("/api/v1/users/me", None);
    insta::assert_json_snapshot!("unauthorized_problem", reply.json());
}

#[test]
fn problem_documents_keep_their_shape() {
    let app = TestApp::spawn();
    let email = unique_email("shape");
    app.sign_up(&email);
    let duplicate = app.post("/api/v1/users", None, json!({"email": email, "password": PASSWORD, "display_name": "A"}));
    insta::assert_json_snapshot!("email_taken_problem", duplicate.json());
    let invalid = app.post(
        "/api/v1/users",
        None,
        json!({"email": unique_email("weak"), "password": "password123", "display_name": "A"}),
    );
    insta::assert_json_snapshot!("weak_password_problem", invalid.json());
    let malformed = app.call_raw("POST", "/api/v1/sessions", None, "application/json", b"{");
    insta::assert_json_snapshot!("malformed_json_problem", malformed.json());
}

#[test]
fn every_response_carries_a_request_id() {
    let app = TestApp::spawn();
    let ok = app.get("/health/live", None);
    let error = app.get("/api/v1/missing", None);
    for reply in [ok, error] {
        let id = reply.header("x-request-id").expect("x-request-id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
}
