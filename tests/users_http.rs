//! The users context over HTTP: every endpoint and its error answers.

mod support;

use chrono::Duration;
use kernel::clock::ManualClock;
use serde_json::json;
use std::sync::Arc;
use support::{PASSWORD, TestApp, unique_email};

#[test]
fn sign_up_log_in_and_edit_the_profile() {
    let app = TestApp::spawn();
    let raw_email = format!("  Ana.{}@Example.COM ", uuid::Uuid::now_v7().simple());
    let reply = app.post(
        "/api/v1/users",
        None,
        json!({"email": raw_email, "password": PASSWORD, "display_name": "Ana García"}),
    );
    reply.expect(201);
    let account = reply.json();
    let email = raw_email.trim().to_lowercase();
    assert_eq!(account["email"], email.as_str());
    assert_eq!(account["roles"], json!(["customer"]));
    assert_eq!(account["email_verified"], false);
    assert!(!reply.text.contains("argon2") && account.get("password_hash").is_none());

    let login = app.log_in_with(&email, PASSWORD);
    login.expect(200);
    let tokens = login.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let access = tokens["access_token"].as_str().expect("token");

    let me = app.get("/api/v1/users/me", Some(access));
    me.expect(200);
    assert_eq!(me.json()["id"], account["id"]);

    let patched = app.patch(
        "/api/v1/users/me",
        Some(access),
        json!({
            "display_name": "Ana G.",
            "phone": "+34 600 123 456",
            "addresses": [{"label": "Home", "recipient": "Ana García", "line1": "Gran Vía 1",
                           "city": "Madrid", "postal_code": "28013", "country": "es"}],
            "preferences": {"language": "es", "currency": "EUR", "marketing_opt_in": true}
        }),
    );
    patched.expect(200);
    let me = app.get("/api/v1/users/me", Some(access)).json();
    assert_eq!(me["display_name"], "Ana G.");
    assert_eq!(me["phone"], "+34600123456");
    assert_eq!(me["addresses"][0]["country"], "ES");
    assert_eq!(me["preferences"], json!({"language": "es", "currency": "EUR", "marketing_opt_in": true}));

    // An explicit null clears the phone; absent fields stay.
    app.patch("/api/v1/users/me", Some(access), json!({"phone": null})).expect(200);
    let me = app.get("/api/v1/users/me", Some(access)).json();
    assert_eq!(me["phone"], json!(null));
    assert_eq!(me["display_name"], "Ana G.");
}

#[test]
fn sign_up_refuses_duplicates_and_bad_fields() {
    let app = TestApp::spawn();
    let email = unique_email("dup");
    app.sign_up(&email);
    let again = app.post(
        "/api/v1/users",
        None,
        json!({"email": email.to_uppercase(), "password": PASSWORD, "display_name": "Other"}),
    );
    again.expect(409);
    assert_eq!(again.problem_code(), "email_taken");

    let cases = [
        (json!({"email": "not-an-email", "password": PASSWORD, "display_name": "A"}), "email", "invalid_email"),
        (
            json!({"email": unique_email("w"), "password": "password123", "display_name": "A"}),
            "password",
            "common_password",
        ),
        (json!({"email": unique_email("s"), "password": "short", "display_name": "A"}), "password", "too_short"),
        (json!({"email": unique_email("n"), "password": PASSWORD, "display_name": "   "}), "display_name", "required"),
        (
            json!({"email": unique_email("c"), "password": PASSWORD, "display_name": "bell\u{7}"}),
            "display_name",
            "control_characters",
        ),
        (json!({"password": PASSWORD, "display_name": "A"}), "email", "required"),
    ];
    for (body, field, code) in cases {
        let reply = app.post("/api/v1/users", None, body.clone());
        reply.expect(422);
        assert!(reply.field_errors().contains(&(field.to_owned(), code.to_owned())), "{body} → {}", reply.text);
    }
}

#[test]
fn unknown_email_and_wrong_password_look_the_same() {
    let app = TestApp::spawn();
    let email = unique_email("same");
    app.sign_up(&email);
    let wrong = app.log_in_with(&email, "not the password at all");
    let unknown = app.log_in_with(&unique_email("nobody"), PASSWORD);
    wrong.expect(401);
    unknown.expect(401);
    assert_eq!(wrong.json(), unknown.json());
    app.post("/api/v1/sessions", None, json!({"email": email})).expect(422);
}

#[test]
fn five_failures_lock_the_account_for_fifteen_minutes() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(clock.clone());
    let email = unique_email("lock");
    let bystander = unique_email("bystander");
    app.sign_up(&email);
    app.sign_up(&bystander);
    for _ in 0..5 {
        app.log_in_with(&email, "wrong password here").expect(401);
        clock.advance(Duration::seconds(10));
    }
    // Even the right password is refused while locked.
    let locked = app.log_in_with(&email, PASSWORD);
    locked.expect(429);
    assert_eq!(locked.problem_code(), "too_many_login_attempts");
    let retry_after: i64 = locked.header("retry-after").expect("Retry-After").parse().expect("seconds");
    // The first failure was 50 s ago: it leaves the window in 850 s.
    assert_eq!(retry_after, 850);
    // Other accounts are not affected.
    app.log_in(&bystander);

    clock.advance(Duration::seconds(retry_after));
    app.log_in(&email);
    // A success clears the count.
    app.log_in_with(&email, "wrong password here").expect(401);
    app.log_in(&email);
}

#[test]
fn parallel_guesses_cannot_pass_the_lockout() {
    let app = TestApp::spawn();
    let email = unique_email("race");
    app.sign_up(&email);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..20).map(|_| scope.spawn(|| app.log_in_with(&email, "wrong password here").status)).collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(unauthorized, 5, "{statuses:?}");
    assert_eq!(throttled, 15, "{statuses:?}");
}

#[test]
fn refresh_rotates_and_reuse_ends_the_session() {
    let app = TestApp::spawn();
    let email = unique_email("refresh");
    let first = app.customer(&email);

    let rotated = app.post("/api/v1/sessions/refresh", None, json!({"refresh_token": first.refresh}));
    rotated.expect(200);
    let second = rotated.json();
    let second_refresh = second["refresh_token"].as_str().expect("refresh").to_owned();
    let second_access = second["access_token"].as_str().expect("access").to_owned();
    assert_ne!(second_refresh, first.refresh);
    app.get("/api/v1/users/me", Some(&second_access)).expect(200);

    // The spent token comes back: theft. The whole session ends.
    let reused = app.post("/api/v1/sessions/refresh", None, json!({"refresh_token": first.refresh}));
    reused.expect(401);
    assert_eq!(reused.problem_code(), "refresh_token_reused");
    app.get("/api/v1/users/me", Some(&second_access)).expect(401);
    let after = app.post("/api/v1/sessions/refresh", None, json!({"refresh_token": second_refresh}));
    after.expect(401);
    assert_eq!(after.problem_code(), "invalid_refresh_token");

    app.post("/api/v1/sessions/refresh", None, json!({"refresh_token": "made-up"})).expect(401);
    app.post("/api/v1/sessions/refresh", None, json!({})).expect(422);
}

#[test]
fn logout_ends_the_access_token_at_once() {
    let app = TestApp::spawn();
    let tokens = app.customer(&unique_email("logout"));
    app.get("/api/v1/users/me", Some(&tokens.access)).expect(200);
    app.delete("/api/v1/sessions/current", Some(&tokens.access)).expect(204);
    let after = app.get("/api/v1/users/me", Some(&tokens.access));
    after.expect(401);
    assert_eq!(after.header("www-authenticate"), Some("Bearer"));
    app.post("/api/v1/sessions/refresh", None, json!({"refresh_token": tokens.refresh})).expect(401);
    app.delete("/api/v1/sessions/current", None).expect(401);
}

#[test]
fn access_tokens_expire() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(clock.clone());
    let tokens = app.customer(&unique_email("expiry"));
    clock.advance(Duration::minutes(16));
    let expired = app.get("/api/v1/users/me", Some(&tokens.access));
    expired.expect(401);
    assert!(expired.json()["detail"].as_str().unwrap_or("").contains("expired"));
    // The refresh token still works and yields a fresh access token.
    let rotated = app.post("/api/v1/sessions/refresh", None, json!({"refresh_token": tokens.refresh}));
    rotated.expect(200);
    let access = rotated.json()["access_token"].as_str().expect("access").to_owned();
    app.get("/api/v1/users/me", Some(&access)).expect(200);
}

#[test]
fn changing_the_password_ends_the_other_sessions() {
    let app = TestApp::spawn();
    let email = unique_email("change");
    let phone = app.customer(&email);
    let laptop = app.log_in(&email);
    let new_password = "a much better passphrase";

    let wrong = app.post(
        "/api/v1/users/me/password",
        Some(&laptop.access),
        json!({"current_password": "not it at all", "new_password": new_password}),
    );
    wrong.expect(422);
    assert_eq!(wrong.field_errors(), vec![("current_password".to_owned(), "incorrect".to_owned())]);
    let weak = app.post(
        "/api/v1/users/me/password",
        Some(&laptop.access),
        json!({"current_password": PASSWORD, "new_password": "1234567890"}),
    );
    weak.expect(422);
    assert_eq!(weak.field_errors(), vec![("new_password".to_owned(), "common_password".to_owned())]);

    app.post(
        "/api/v1/users/me/password",
        Some(&laptop.access),
        json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .expect(204);
    app.get("/api/v1/users/me", Some(&laptop.access)).expect(200);
    app.get("/api/v1/users/me", Some(&phone.access)).expect(401);
    app.log_in_with(&email, PASSWORD).expect(401);
    app.log_in_with(&email, new_password).expect(200);
}

#[test]
fn sessions_are_listed_and_ended_by_their_owner_only() {
    let app = TestApp::spawn();
    let email = unique_email("sessions");
    let first = app.customer(&email);
    let second = app.log_in(&email);
    let intruder = app.customer(&unique_email("intruder"));

    let list = app.get("/api/v1/users/me/sessions", Some(&second.access));
    list.expect(200);
    let items = list.json()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let first_id = items.iter().find(|s| s["current"] == false).expect("other")["id"].as_str().expect("id").to_owned();

    // Another user cannot end it, and cannot learn it exists.
    app.delete(&format!("/api/v1/users/me/sessions/{first_id}"), Some(&intruder.access)).expect(404);
    app.get("/api/v1/users/me", Some(&first.access)).expect(200);

    app.delete(&format!("/api/v1/users/me/sessions/{first_id}"), Some(&second.access)).expect(204);
    app.get("/api/v1/users/me", Some(&first.access)).expect(401);
    app.delete(&format!("/api/v1/users/me/sessions/{first_id}"), Some(&second.access)).expect(404);
    app.delete("/api/v1/users/me/sessions/not-a-uuid", Some(&second.access)).expect(404);
    app.get("/api/v1/users/me/sessions", None).expect(401);
}

#[test]
fn deleting_the_account_erases_personal_data_but_keeps_the_id() {
    let app = TestApp::spawn();
    let email = unique_email("erase");
    let account = app.sign_up(&email);
    let tokens = app.log_in(&email);
    app.patch("/api/v1/users/me", Some(&tokens.access), json!({"phone": "+34600123456"})).expect(200);
    app.delete("/api/v1/users/me", Some(&tokens.access)).expect(204);
    app.get("/api/v1/users/me", Some(&tokens.access)).expect(401);
    app.log_in_with(&email, PASSWORD).expect(401);

    let admin = app.admin(&unique_email("admin"));
    let listed = app.get(&format!("/api/v1/admin/users?email={}", "erased"), Some(&admin.access));
    listed.expect(200);
    let erased = listed.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|a| a["id"] == account["id"])
        .cloned()
        .expect("erased account still listed by id");
    assert_eq!(erased["active"], false);
    assert_eq!(erased["display_name"], "");
    assert_eq!(erased["phone"], json!(null));
    assert!(!erased.to_string().contains(&email));
    // The address is free again.
    let again = app.sign_up(&email);
    assert_ne!(again["id"], account["id"]);
}

#[test]
fn email_verification_through_the_mailed_token() {
    let app = TestApp::spawn();
    let email = unique_email("verify");
    let tokens = app.customer(&email);
    let sent = app.post("/api/v1/users/me/verification", Some(&tokens.access), json!({}));
    sent.expect(202);
    let token = app.wait_for_token(&email, 1);

    app.post("/api/v1/users/verify", None, json!({"token": "wrong"})).expect(422);
    app.post("/api/v1/users/verify", None, json!({"token": token})).expect(204);
    assert_eq!(app.get("/api/v1/users/me", Some(&tokens.access)).json()["email_verified"], true);
    // Single use.
    let reused = app.post("/api/v1/users/verify", None, json!({"token": token}));
    reused.expect(422);
    assert_eq!(reused.field_errors(), vec![("token".to_owned(), "invalid_token".to_owned())]);
    let again = app.post("/api/v1/users/me/verification", Some(&tokens.access), json!({}));
    again.expect(409);
    assert_eq!(again.problem_code(), "already_verified");
    app.post("/api/v1/users/me/verification", None, json!({})).expect(401);
}

#[test]
fn password_reset_by_mail_ends_every_session() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(clock.clone());
    let email = unique_email("reset");
    let tokens = app.customer(&email);

    // Unknown addresses get the same answer and no mail.
    let nobody = unique_email("nobody");
    app.post("/api/v1/password-resets", None, json!({"email": nobody})).expect(202);
    app.post("/api/v1/password-resets", None, json!({"email": email})).expect(202);
    let token = app.wait_for_token(&email, 1);
    assert!(app.mails_to(&nobody).is_empty());

    let weak = app.post("/api/v1/password-resets/confirm", None, json!({"token": token, "new_password": "short"}));
    weak.expect(422);
    assert_eq!(weak.field_errors(), vec![("new_password".to_owned(), "too_short".to_owned())]);
    let new_password = "reset to something new";
    app.post("/api/v1/password-resets/confirm", None, json!({"token": token, "new_password": new_password}))
        .expect(204);
    app.get("/api/v1/users/me", Some(&tokens.access)).expect(401);
    app.log_in_with(&email, PASSWORD).expect(401);
    app.log_in_with(&email, new_password).expect(200);
    app.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({"token": token, "new_password": "yet another passphrase"}),
    )
    .expect(422);

    // Tokens expire after an hour.
    app.post("/api/v1/password-resets", None, json!({"email": email})).expect(202);
    let late = app.wait_for_token(&email, 2);
    clock.advance(Duration::minutes(61));
    app.post("/api/v1/password-resets/confirm", None, json!({"token": late, "new_password": "too late for this one"}))
        .expect(422);
}

#[test]
fn admins_list_and_administer_users() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("root"));
    let customer = app.customer(&unique_email("shopper"));
    let marker = uuid::Uuid::now_v7().simple().to_string();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.sign_up(&format!("page{n}-{marker}@example.com"))["id"].clone());
    }

    app.get("/api/v1/admin/users", None).expect(401);
    let forbidden = app.get("/api/v1/admin/users", Some(&customer.access));
    forbidden.expect(403);
    assert_eq!(forbidden.problem_code(), "forbidden");

    // Pages of two, in creation order, neither repeating nor skipping.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/admin/users?email={marker}&limit=2&cursor={c}"),
            None => format!("/api/v1/admin/users?email={marker}&limit=2"),
        };
        let page = app.get(&path, Some(&admin.access));
        page.expect(200);
        let body = page.json();
        seen.extend(body["items"].as_array().expect("items").iter().map(|a| a["id"].clone()));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    app.get("/api/v1/admin/users?cursor=%%%", Some(&admin.access)).expect(400);
    app.get("/api/v1/admin/users?limit=1000", Some(&admin.access)).expect(422);
    app.get("/api/v1/admin/users?limit=abc", Some(&admin.access)).expect(400);

    let target = format!("page0-{marker}@example.com");
    let target_tokens = app.log_in(&target);
    let id = ids[0].as_str().expect("id");
    let promoted = app.patch(
        &format!("/api/v1/admin/users/{id}"),
        Some(&admin.access),
        json!({"roles": ["customer", "support_agent"]}),
    );
    promoted.expect(200);
    assert_eq!(promoted.json()["roles"], json!(["customer", "support_agent"]));

    let bad_role = app.patch(&format!("/api/v1/admin/users/{id}"), Some(&admin.access), json!({"roles": ["root"]}));
    bad_role.expect(422);
    assert_eq!(bad_role.field_errors(), vec![("roles[0]".to_owned(), "unknown_role".to_owned())]);

    app.patch(&format!("/api/v1/admin/users/{id}"), Some(&admin.access), json!({"active": false})).expect(200);
    app.get("/api/v1/users/me", Some(&target_tokens.access)).expect(401);
    app.log_in_with(&target, PASSWORD).expect(401);
    app.patch(&format!("/api/v1/admin/users/{id}"), Some(&admin.access), json!({"active": true})).expect(200);
    app.log_in(&target);

    let unknown = uuid::Uuid::now_v7();
    app.patch(&format!("/api/v1/admin/users/{unknown}"), Some(&admin.access), json!({"active": false})).expect(404);
    app.patch("/api/v1/admin/users/42", Some(&admin.access), json!({"active": false})).expect(404);
    app.patch(&format!("/api/v1/admin/users/{id}"), Some(&customer.access), json!({"active": false})).expect(403);

    let me = app.get("/api/v1/users/me", Some(&admin.access)).json();
    let own = me["id"].as_str().expect("id");
    let demote = app.patch(&format!("/api/v1/admin/users/{own}"), Some(&admin.access), json!({"roles": ["customer"]}));
    demote.expect(409);
    assert_eq!(demote.problem_code(), "cannot_change_own_admin");
}
