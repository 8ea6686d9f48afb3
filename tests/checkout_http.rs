//! Checkout through the real app: the cart becomes an order, the checkout
//! saga reserves, charges, commits and confirms — or compensates and rejects
//! — and the invariants hold: no overselling, stock conserved, no charge for
//! a rejected order, one charge per confirmed order, one order per key.

mod support;

use serde_json::{Value, json};
use support::{Reply, TestApp, unique_email};

fn product(app: &TestApp, admin: &str, sku: &str, price: i64, stock: i64) -> String {
    let reply = app.post(
        "/api/v1/catalog/products",
        Some(admin),
        json!({"sku": sku, "name": format!("Item {sku}"), "price": {"amount": price, "currency": "EUR"}, "stock": stock}),
    );
    reply.expect(201);
    reply.json()["id"].as_str().expect("id").to_owned()
}

fn body(token: &str) -> Value {
    json!({
        "shipping_address": {"recipient": "Ana García", "line1": "Gran Vía 1", "city": "Madrid", "postal_code": "28013", "country": "ES"},
        "payment": {"token": token}
    })
}

fn checkout(app: &TestApp, access: &str, key: Option<&str>, body: &Value) -> Reply {
    let mut request =
        ureq::post(&format!("{}/api/v1/checkout", app.base_url)).set("Authorization", &format!("Bearer {access}"));
    if let Some(key) = key {
        request = request.set("Idempotency-Key", key);
    }
    let response = match request.send_json(body.clone()) {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{error}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|name| response.header(&name).map(|v| (name.clone(), v.to_owned())))
        .collect();
    Reply { status, headers, text: response.into_string().unwrap_or_default() }
}

/// The order once its saga has finished (202 answers are polled).
fn final_order(app: &TestApp, access: &str, order: Value) -> Value {
    let id = order["id"].as_str().expect("id").to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut order = order;
    while order["status"] == "pending" {
        assert!(std::time::Instant::now() < deadline, "the saga never finished: {order}");
        std::thread::sleep(std::time::Duration::from_millis(100));
        order = app.get(&format!("/api/v1/orders/{id}"), Some(access)).json();
    }
    order
}

fn stock(app: &TestApp, admin: &str, id: &str) -> (i64, i64) {
    let body = app.get(&format!("/api/v1/catalog/products/{id}/stock"), Some(admin)).json();
    (body["on_hand"].as_i64().unwrap_or(-1), body["reserved"].as_i64().unwrap_or(-1))
}

#[test]
fn a_paid_checkout_confirms_the_order_and_takes_the_stock() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-C", 2500, 10);
    let customer = app.customer(&unique_email("buyer"));
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 2})))
        .expect(200);

    let first = checkout(&app, &customer.access, Some("key-1"), &body("tok_visa"));
    first.expect(201);
    let order = first.json();
    assert_eq!(order["status"], "confirmed", "{}", first.text);
    assert_eq!(order["total"], json!({"amount": 5000, "currency": "EUR"}));
    assert_eq!(order["payment"]["status"], "captured");
    assert_eq!(order["lines"][0]["name"], "Item LAMP-C");
    let id = order["id"].as_str().expect("id").to_owned();
    assert_eq!(first.header("location").map(str::to_owned), Some(format!("/api/v1/orders/{id}")));
    assert_eq!(stock(&app, &admin.access, &lamp), (8, 0));
    assert_eq!(app.get("/api/v1/cart", Some(&customer.access)).json()["lines"], json!([]));
    let timeline: Vec<&str> =
        order["timeline"].as_array().expect("timeline").iter().map(|t| t["status"].as_str().unwrap_or("")).collect();
    assert_eq!(timeline, vec!["pending", "confirmed"]);

    // The same key and body: the same answer, replayed, and nothing new.
    let replay = checkout(&app, &customer.access, Some("key-1"), &body("tok_visa"));
    replay.expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json()["id"], order["id"]);
    let reused = checkout(&app, &customer.access, Some("key-1"), &body("tok_chargeDeclined"));
    reused.expect(422);
    assert_eq!(reused.field_errors(), vec![("Idempotency-Key".to_owned(), "idempotency_key_reused".to_owned())]);
    assert_eq!(app.payments_captured(), 1, "one charge");

    let list = app.get("/api/v1/orders", Some(&customer.access)).json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    app.get(&format!("/api/v1/orders/{id}"), Some(&customer.access)).expect(200);
    let stranger = app.customer(&unique_email("stranger"));
    app.get(&format!("/api/v1/orders/{id}"), Some(&stranger.access)).expect(404);
    app.get("/api/v1/orders", None).expect(401);
    app.get("/api/v1/orders?cursor=garbage", Some(&customer.access)).expect(400);
    app.get("/api/v1/orders?limit=0", Some(&customer.access)).expect(422);
    app.get("/api/v1/orders/not-a-uuid", Some(&customer.access)).expect(404);
    app.post(&format!("/api/v1/orders/{id}/cancel"), None, json!({})).expect(401);
}

#[test]
fn checkout_mistakes_are_problems() {
    let app = TestApp::spawn();
    let customer = app.customer(&unique_email("oops"));
    checkout(&app, &customer.access, None, &body("tok_visa")).expect(400);
    let empty = checkout(&app, &customer.access, Some("k"), &body("tok_visa"));
    empty.expect(409);
    assert_eq!(empty.problem_code(), "cart_empty");
    let invalid = checkout(
        &app,
        &customer.access,
        Some("k2"),
        &json!({"shipping_address": {"recipient": "", "line1": "x", "city": "y", "postal_code": "1", "country": "Spain"}, "payment": {"token": "tok_visa"}}),
    );
    invalid.expect(422);
    let fields: Vec<String> = invalid.field_errors().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, vec!["shipping_address.recipient", "shipping_address.country"]);
    checkout(&app, &customer.access, Some("k3"), &json!({"payment": {"token": "tok_visa"}})).expect(422);
    let unauthenticated = ureq::post(&format!("{}/api/v1/checkout", app.base_url))
        .set("Idempotency-Key", "k")
        .send_json(body("tok_visa"));
    assert!(matches!(unauthenticated, Err(ureq::Error::Status(401, _))));
}

#[test]
fn a_declined_card_releases_the_stock_and_rejects_the_order() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-D", 2500, 5);
    let customer = app.customer(&unique_email("declined"));
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 3})))
        .expect(200);
    let reply = checkout(&app, &customer.access, Some("d1"), &body("tok_chargeDeclined"));
    reply.expect(201);
    let order = reply.json();
    assert_eq!(
        (order["status"].clone(), order["rejection_reason"].clone()),
        (json!("rejected"), json!("payment_declined"))
    );
    assert_eq!(order["payment"]["captured"]["amount"], 0);
    assert_eq!(stock(&app, &admin.access, &lamp), (5, 0), "the reservation was released");
    assert_eq!(app.payments_captured(), 0);
}

#[test]
fn a_payment_that_keeps_failing_is_given_up_and_rejected() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-E", 1000, 5);
    let customer = app.customer(&unique_email("flaky"));
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 1})))
        .expect(200);
    let reply = checkout(&app, &customer.access, Some("e1"), &body("tok_processingError"));
    reply.expect(201);
    assert_eq!(reply.json()["rejection_reason"], "payment_failed");
    assert_eq!(stock(&app, &admin.access, &lamp), (5, 0));
}

#[test]
fn concurrent_checkouts_for_the_last_units_never_oversell() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-F", 1500, 20);
    let customers: Vec<_> = (0..200).map(|n| app.customer(&unique_email(&format!("racer{n}")))).collect();
    for customer in &customers {
        app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 1})))
            .expect(200);
    }
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = customers
            .iter()
            .enumerate()
            .map(|(n, customer)| {
                let app = &app;
                scope.spawn(move || checkout(app, &customer.access, Some(&format!("race-{n}")), &body("tok_visa")))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let mut confirmed = 0;
    for (reply, customer) in replies.iter().zip(&customers) {
        match reply.status {
            // On a loaded machine a saga can outlast the request's wait.
            201 | 202 => {
                let order = final_order(&app, &customer.access, reply.json());
                match order["status"].as_str() {
                    Some("confirmed") => {
                        confirmed += 1;
                        assert_eq!(order["payment"]["status"], "captured");
                    }
                    Some("rejected") => {
                        assert_eq!(order["rejection_reason"], "out_of_stock", "{}", reply.text);
                        assert_eq!(order["payment"]["captured"]["amount"], 0, "no charge for a rejected order");
                    }
                    other => panic!("unexpected status {other:?}: {}", reply.text),
                }
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(confirmed, 20, "exactly the twenty units were sold; the other 180 orders were rejected out_of_stock");
    let (on_hand, reserved) = stock(&app, &admin.access, &lamp);
    assert_eq!((on_hand, reserved), (0, 0), "stock conserved: 20 on hand = 20 sold");
    assert_eq!(app.payments_captured(), 20, "one charge per confirmed order");
}

#[test]
fn admins_ship_and_deliver_in_order_and_erasure_strips_addresses() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-G", 1000, 5);
    let customer = app.customer(&unique_email("shipped"));
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 1})))
        .expect(200);
    let order = checkout(&app, &customer.access, Some("g1"), &body("tok_visa")).json();
    let id = order["id"].as_str().expect("id").to_owned();
    let ship = format!("/api/v1/admin/orders/{id}/ship");
    let deliver = format!("/api/v1/admin/orders/{id}/deliver");

    app.post(&ship, Some(&customer.access), json!({})).expect(403);
    let early = app.post(&deliver, Some(&admin.access), json!({}));
    early.expect(409);
    assert_eq!(early.problem_code(), "illegal_transition");
    app.post(&ship, Some(&admin.access), json!({})).expect(200);
    app.post(&ship, Some(&admin.access), json!({})).expect(409);
    let delivered = app.post(&deliver, Some(&admin.access), json!({}));
    delivered.expect(200);
    let delivered = delivered.json();
    let timeline: Vec<&str> = delivered["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|t| t["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(timeline, vec!["pending", "confirmed", "shipped", "delivered"]);
    app.post(&format!("/api/v1/admin/orders/{}/ship", uuid::Uuid::now_v7()), Some(&admin.access), json!({}))
        .expect(404);

    // The customer erases their account: the order stays, its address does not.
    app.delete("/api/v1/users/me", Some(&customer.access)).expect(204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let order = app.shop.orders.order(kernel::OrderId::parse(&id).expect("id")).expect("order kept");
        if order.shipping_address.recipient == "(erased)" {
            assert_eq!(order.total.amount, 1000, "the figures stay for accounting");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the address was never anonymised");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn operators_see_sagas_and_their_step_logs() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-H", 1000, 5);
    let customer = app.customer(&unique_email("watched"));
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 1})))
        .expect(200);
    let order = checkout(&app, &customer.access, Some("h1"), &body("tok_chargeDeclined")).json();

    app.get("/api/v1/admin/sagas", Some(&customer.access)).expect(403);
    app.get("/api/v1/admin/sagas", None).expect(401);
    app.get("/api/v1/admin/sagas?state=sleeping", Some(&admin.access)).expect(422);
    let failed = app.get("/api/v1/admin/sagas?state=failed", Some(&admin.access));
    failed.expect(200);
    let items = failed.json()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["order_id"], order["id"]);
    let saga_id = items[0]["id"].as_str().expect("id").to_owned();
    let detail = app.get(&format!("/api/v1/admin/sagas/{saga_id}"), Some(&admin.access));
    detail.expect(200);
    let steps: Vec<(String, String)> = detail.json()["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["step"].as_str().unwrap_or("").to_owned(), s["outcome"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("reserve".to_owned(), "ok".to_owned()),
            ("charge".to_owned(), "failed".to_owned()),
            ("release".to_owned(), "ok".to_owned()),
            ("reject".to_owned(), "ok".to_owned())
        ]
    );
    app.get(&format!("/api/v1/admin/sagas/{}", uuid::Uuid::now_v7()), Some(&admin.access)).expect(404);
    assert_eq!(app.get("/api/v1/admin/sagas?state=running", Some(&admin.access)).json()["items"], json!([]));

    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_tienda"));
    cli.args(["sagas", "--state", "failed"])
        .env("TIENDA_AUTH__PASSWORD_HASHING", "insecure-test-only")
        .env_remove("DATABASE_URL");
    for (key, value) in app.cli_env() {
        cli.env(key, value);
    }
    let output = cli.output().expect("tienda sagas");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&saga_id));
}

#[test]
fn cancelling_before_shipping_refunds_and_restocks() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-K", 1000, 5);
    let customer = app.customer(&unique_email("changed-mind"));
    let mut ids = Vec::new();
    for key in ["k1", "k2"] {
        app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 2})))
            .expect(200);
        let order = checkout(&app, &customer.access, Some(key), &body("tok_visa")).json();
        assert_eq!(order["status"], "confirmed");
        ids.push(order["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(stock(&app, &admin.access, &lamp), (1, 0));

    let stranger = app.customer(&unique_email("stranger"));
    app.post(&format!("/api/v1/orders/{}/cancel", ids[0]), Some(&stranger.access), json!({})).expect(404);
    let cancelling = app.post(&format!("/api/v1/orders/{}/cancel", ids[0]), Some(&customer.access), json!({}));
    cancelling.expect(202);
    assert_eq!(cancelling.json()["status"], "cancelling");
    app.post(&format!("/api/v1/orders/{}/cancel", ids[0]), Some(&customer.access), json!({})).expect(409);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let order = loop {
        let order = app.get(&format!("/api/v1/orders/{}", ids[0]), Some(&customer.access)).json();
        if order["status"] == "cancelled" {
            break order;
        }
        assert!(std::time::Instant::now() < deadline, "never cancelled: {order}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(order["payment"]["status"], "refunded");
    assert_eq!(order["payment"]["refunded"]["amount"], 2000);
    assert_eq!(stock(&app, &admin.access, &lamp), (3, 0), "the two units are back");

    // A shipped order can no longer be cancelled.
    app.post(&format!("/api/v1/admin/orders/{}/ship", ids[1]), Some(&admin.access), json!({})).expect(200);
    let late = app.post(&format!("/api/v1/orders/{}/cancel", ids[1]), Some(&customer.access), json!({}));
    late.expect(409);
    assert_eq!(late.problem_code(), "illegal_transition");
}

#[test]
fn two_checkouts_of_one_cart_at_once_make_one_order() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-J", 1000, 50);
    let customer = app.customer(&unique_email("double"));
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 1})))
        .expect(200);
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["tab-1", "tab-2", "tab-3"]
            .into_iter()
            .map(|key| {
                let (app, access) = (&app, &customer.access);
                scope.spawn(move || checkout(app, access, Some(key), &body("tok_visa")))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    for reply in replies.iter().filter(|r| r.status != 201) {
        reply.expect(409);
        assert!(["cart_empty", "cart_changed"].contains(&reply.problem_code().as_str()), "{}", reply.text);
    }
    assert_eq!(app.get("/api/v1/orders", Some(&customer.access)).json()["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.payments_captured(), 1);
}

#[test]
fn cancelling_during_checkout_is_honoured_once_the_order_is_confirmed() {
    let app = TestApp::spawn_with(std::sync::Arc::new(kernel::SystemClock), |settings| {
        settings.checkout.wait_ms = 0;
        settings.checkout.sandbox_slow_ms = 1_000;
    });
    let admin = app.admin(&unique_email("ops"));
    let lamp = product(&app, &admin.access, "LAMP-L", 1000, 5);
    let customer = app.customer(&unique_email("hasty"));
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 2})))
        .expect(200);
    let placed = checkout(&app, &customer.access, Some("l1"), &body("tok_slow"));
    placed.expect(202);
    let id = placed.json()["id"].as_str().expect("id").to_owned();
    let asked = app.post(&format!("/api/v1/orders/{id}/cancel"), Some(&customer.access), json!({}));
    asked.expect(202);
    assert_eq!(asked.json()["status"], "pending", "still checking out; the request is recorded");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let order = loop {
        let order = app.get(&format!("/api/v1/orders/{id}"), Some(&customer.access)).json();
        if order["status"] == "cancelled" {
            break order;
        }
        assert!(std::time::Instant::now() < deadline, "never cancelled: {order}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let timeline: Vec<&str> =
        order["timeline"].as_array().expect("timeline").iter().map(|t| t["status"].as_str().unwrap_or("")).collect();
    assert_eq!(timeline, vec!["pending", "cancellation_requested", "confirmed", "cancelling", "cancelled"]);
    assert_eq!(order["payment"]["status"], "refunded");
    assert_eq!(stock(&app, &admin.access, &lamp), (5, 0), "the units are back");
}
