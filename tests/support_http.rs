//! Support tickets over HTTP: customers, agents, the queue, transitions,
//! internal notes, and the agent's composed view of customer and order.

mod support;

use serde_json::{Value, json};
use support::{TestApp, Tokens, unique_email};

fn agent(app: &TestApp, admin: &Tokens) -> Tokens {
    let email = unique_email("agent");
    let id = app.sign_up(&email)["id"].as_str().expect("id").to_owned();
    app.patch(&format!("/api/v1/admin/users/{id}"), Some(&admin.access), json!({"roles": ["support_agent"]}))
        .expect(200);
    app.log_in(&email)
}

fn open(app: &TestApp, access: &str, body: Value) -> support::Reply {
    app.post("/api/v1/support/tickets", Some(access), body)
}

#[test]
fn customers_open_tickets_and_agents_work_the_queue() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("root"));
    let agent = agent(&app, &admin);
    let customer_email = unique_email("asker");
    let customer = app.customer(&customer_email);
    let other = app.customer(&unique_email("other"));

    let opened = open(
        &app,
        &customer.access,
        json!({"kind": "inquiry", "subject": "Where is my lamp?", "body": "Ordered last week."}),
    );
    opened.expect(201);
    let ticket = opened.json();
    assert_eq!((ticket["status"].clone(), ticket["kind"].clone()), (json!("open"), json!("inquiry")));
    let id = ticket["id"].as_str().expect("id").to_owned();
    let bad_kind = open(&app, &customer.access, json!({"kind": "refund", "subject": "x", "body": "y"}));
    bad_kind.expect(422);
    assert_eq!(bad_kind.field_errors(), vec![("kind".to_owned(), "invalid_kind".to_owned())]);
    open(&app, &customer.access, json!({"kind": "inquiry", "subject": "", "body": "y"})).expect(422);
    open(
        &app,
        &customer.access,
        json!({"kind": "inquiry", "subject": "x", "body": "y", "order_id": uuid::Uuid::now_v7()}),
    )
    .expect(404);
    open(&app, &customer.access, json!({"kind": "inquiry", "subject": "x"})).expect(422);
    app.post("/api/v1/support/tickets", None, json!({})).expect(401);

    assert_eq!(
        app.get("/api/v1/support/tickets", Some(&customer.access)).json()["items"].as_array().map(Vec::len),
        Some(1)
    );
    app.get(&format!("/api/v1/support/tickets/{id}"), Some(&other.access)).expect(404);
    app.get("/api/v1/support/queue", Some(&customer.access)).expect(403);

    let queue = app.get("/api/v1/support/queue?status=open&assigned=none", Some(&agent.access));
    queue.expect(200);
    assert!(queue.json()["items"].as_array().expect("items").iter().any(|t| t["id"] == id.as_str()));
    app.get("/api/v1/support/queue?status=sleeping", Some(&agent.access)).expect(422);

    // Agent: a note for colleagues, an answer for the customer, assignment.
    app.post(
        &format!("/api/v1/support/tickets/{id}/messages"),
        Some(&agent.access),
        json!({"body": "VIP customer", "internal": true}),
    )
    .expect(201);
    app.post(
        &format!("/api/v1/support/tickets/{id}/messages"),
        Some(&agent.access),
        json!({"body": "It ships tomorrow."}),
    )
    .expect(201);
    let me = app.get("/api/v1/users/me", Some(&agent.access)).json();
    let patched = app.patch(
        &format!("/api/v1/support/tickets/{id}"),
        Some(&agent.access),
        json!({"status": "pending", "priority": "high", "assignee_id": me["id"]}),
    );
    patched.expect(200);
    assert_eq!(patched.json()["priority"], "high");
    let mine = app.get("/api/v1/support/queue?assigned=me", Some(&agent.access)).json();
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));

    // The customer never sees the note.
    let seen = app.get(&format!("/api/v1/support/tickets/{id}"), Some(&customer.access)).json();
    let bodies: Vec<&str> =
        seen["messages"].as_array().expect("messages").iter().map(|m| m["body"].as_str().unwrap_or("")).collect();
    assert_eq!(bodies, vec!["Ordered last week.", "It ships tomorrow."]);
    assert!(!seen.to_string().contains("VIP"));
    app.post(
        &format!("/api/v1/support/tickets/{id}/messages"),
        Some(&customer.access),
        json!({"body": "x", "internal": true}),
    )
    .expect(422);

    // Resolved, reopened by the customer's reply, resolved, closed for good.
    app.patch(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access), json!({"status": "resolved"})).expect(200);
    let reopened = app.post(
        &format!("/api/v1/support/tickets/{id}/messages"),
        Some(&customer.access),
        json!({"body": "Not yet!"}),
    );
    reopened.expect(201);
    assert_eq!(reopened.json()["status"], "open");
    app.patch(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access), json!({"status": "closed"})).expect(409);
    app.patch(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access), json!({"status": "resolved"})).expect(200);
    app.patch(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access), json!({"status": "closed"})).expect(200);
    let reopen = app.patch(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access), json!({"status": "open"}));
    reopen.expect(409);
    assert_eq!(reopen.problem_code(), "illegal_transition");
    app.post(&format!("/api/v1/support/tickets/{id}/messages"), Some(&customer.access), json!({"body": "?"}))
        .expect(409);
    app.patch(&format!("/api/v1/support/tickets/{id}"), Some(&customer.access), json!({"status": "open"})).expect(403);
    app.patch(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access), json!({"priority": "whenever"}))
        .expect(422);
}

#[test]
fn the_agent_view_composes_customer_and_order_from_their_contexts() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("root"));
    let agent = agent(&app, &admin);
    let lamp = app.post(
        "/api/v1/catalog/products",
        Some(&admin.access),
        json!({"sku": "SUP-1", "name": "Support Lamp", "price": {"amount": 1500, "currency": "EUR"}, "stock": 3}),
    );
    lamp.expect(201);
    let lamp = lamp.json()["id"].as_str().expect("id").to_owned();
    let email = unique_email("buyer");
    let customer = app.customer(&email);
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 2})))
        .expect(200);
    let order = ureq::post(&format!("{}/api/v1/checkout", app.base_url))
        .set("Authorization", &format!("Bearer {}", customer.access))
        .set("Idempotency-Key", "sup-1")
        .send_json(json!({
            "shipping_address": {"recipient": "B", "line1": "1 St", "city": "Town", "postal_code": "1", "country": "ES"},
            "payment": {"token": "tok_visa"}
        }))
        .expect("checkout")
        .into_json::<Value>()
        .expect("json");
    let order_id = order["id"].as_str().expect("id").to_owned();

    let ticket = open(
        &app,
        &customer.access,
        json!({"kind": "complaint", "subject": "Scratched", "body": "One arrived scratched.", "order_id": order_id}),
    );
    ticket.expect(201);
    let id = ticket.json()["id"].as_str().expect("id").to_owned();
    // Someone else cannot attach a ticket to this order.
    let stranger = app.customer(&unique_email("stranger"));
    open(&app, &stranger.access, json!({"kind": "complaint", "subject": "x", "body": "y", "order_id": order_id}))
        .expect(404);

    let view = app.get(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access));
    view.expect(200);
    let body = view.json();
    assert_eq!(body["customer"]["display_name"], "Test Customer");
    assert_eq!(body["customer"]["email"], email.as_str());
    assert_eq!(body["order"]["status"], "confirmed");
    assert_eq!(body["order"]["total"], 3000);
    assert_eq!(body["order"]["lines"], json!(["2 × Support Lamp"]));
    assert_eq!(body["unavailable"], json!([]));
    // The customer's own view has none of that.
    let own = app.get(&format!("/api/v1/support/tickets/{id}"), Some(&customer.access)).json();
    assert!(own.get("customer").is_none() && own.get("unavailable").is_none());
}

#[test]
fn ratings_statistics_and_erasure() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("root"));
    let agent = agent(&app, &admin);
    let customer = app.customer(&unique_email("rater"));
    let id = open(
        &app,
        &customer.access,
        json!({"kind": "feedback", "subject": "Lovely shop", "body": "My name is Ana Secret."}),
    )
    .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    open(&app, &customer.access, json!({"kind": "inquiry", "subject": "Still open", "body": "?"})).expect(201);
    let rating = format!("/api/v1/support/tickets/{id}/rating");
    let early = app.post(&rating, Some(&customer.access), json!({"score": 5, "comment": "Great"}));
    early.expect(409);
    assert_eq!(early.problem_code(), "cannot_rate");
    app.post(&format!("/api/v1/support/tickets/{id}/messages"), Some(&agent.access), json!({"body": "Thank you!"}))
        .expect(201);
    app.patch(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access), json!({"status": "resolved"})).expect(200);
    app.post(&rating, Some(&customer.access), json!({"score": 6})).expect(422);
    let stranger = app.customer(&unique_email("stranger"));
    app.post(&rating, Some(&stranger.access), json!({"score": 1})).expect(404);
    app.post(&rating, Some(&customer.access), json!({"score": 4, "comment": "Quick answer"})).expect(204);
    app.post(&rating, Some(&customer.access), json!({"score": 1})).expect(409);

    app.get("/api/v1/admin/support/stats", Some(&agent.access)).expect(403);
    let stats = app.get("/api/v1/admin/support/stats", Some(&admin.access));
    stats.expect(200);
    let stats = stats.json();
    assert_eq!(stats["open_by_kind"], json!({"inquiry": 1}));
    assert_eq!(stats["average_rating"], 4.0);
    assert!(stats["median_first_response_seconds"].as_f64().is_some());
    assert!(stats["median_resolution_seconds"].as_f64().is_some());

    // The customer leaves: their words leave the tickets, the agents' stay.
    app.delete("/api/v1/users/me", Some(&customer.access)).expect(204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let ticket = app.get(&format!("/api/v1/support/tickets/{id}"), Some(&agent.access)).json();
        if ticket["subject"] == "[erased]" {
            assert!(!ticket.to_string().contains("Ana Secret"));
            let bodies: Vec<&str> = ticket["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| m["body"].as_str().unwrap_or(""))
                .collect();
            assert_eq!(bodies, vec!["[erased]", "Thank you!"]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never anonymised");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn poll(app: &TestApp, path: &str, access: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let value = app.get(path, Some(access)).json();
        if done(&value) {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out on {path}: {value}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_whole_return_journey() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("root"));
    let agent = agent(&app, &admin);
    let lamp = app
        .post(
            "/api/v1/catalog/products",
            Some(&admin.access),
            json!({"sku": "RET-L", "name": "Lamp", "price": {"amount": 900, "currency": "EUR"}, "stock": 10}),
        )
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mug = app
        .post(
            "/api/v1/catalog/products",
            Some(&admin.access),
            json!({"sku": "RET-M", "name": "Mug", "price": {"amount": 400, "currency": "EUR"}, "stock": 10}),
        )
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let customer = app.customer(&unique_email("returner"));
    for (product, quantity) in [(&lamp, 3), (&mug, 1)] {
        app.call(
            "PUT",
            &format!("/api/v1/cart/items/{product}"),
            Some(&customer.access),
            Some(&json!({"quantity": quantity})),
        )
        .expect(200);
    }
    let order = ureq::post(&format!("{}/api/v1/checkout", app.base_url))
        .set("Authorization", &format!("Bearer {}", customer.access))
        .set("Idempotency-Key", "ret-1")
        .send_json(json!({"shipping_address": {"recipient": "R", "line1": "1 St", "city": "T", "postal_code": "1", "country": "ES"}, "payment": {"token": "tok_visa"}}))
        .expect("checkout")
        .into_json::<Value>()
        .expect("json");
    assert_eq!(order["status"], "confirmed");
    let order_id = order["id"].as_str().expect("id").to_owned();
    let return_body = |lines: Value| json!({"kind": "return", "subject": "Too many lamps", "body": "Sending some back.", "order_id": order_id, "lines": lines});

    let early =
        open(&app, &customer.access, return_body(json!([{"product_id": lamp, "quantity": 2, "reason": "too many"}])));
    early.expect(422);
    assert_eq!(early.field_errors(), vec![("order_id".to_owned(), "order_not_delivered".to_owned())]);
    app.post(&format!("/api/v1/admin/orders/{order_id}/ship"), Some(&admin.access), json!({})).expect(200);
    app.post(&format!("/api/v1/admin/orders/{order_id}/deliver"), Some(&admin.access), json!({})).expect(200);

    let too_many =
        open(&app, &customer.access, return_body(json!([{"product_id": lamp, "quantity": 4, "reason": "x"}])));
    too_many.expect(422);
    assert_eq!(too_many.field_errors(), vec![("lines[0].quantity".to_owned(), "too_many".to_owned())]);
    let stranger_product = open(
        &app,
        &customer.access,
        return_body(json!([{"product_id": uuid::Uuid::now_v7(), "quantity": 1, "reason": "x"}])),
    );
    assert_eq!(stranger_product.field_errors(), vec![("lines[0].product_id".to_owned(), "not_in_order".to_owned())]);
    open(&app, &customer.access, json!({"kind": "return", "subject": "x", "body": "y", "order_id": order_id}))
        .expect(422);
    let stranger = app.customer(&unique_email("stranger"));
    open(&app, &stranger.access, return_body(json!([{"product_id": lamp, "quantity": 1, "reason": "x"}]))).expect(404);

    let requested =
        open(&app, &customer.access, return_body(json!([{"product_id": lamp, "quantity": 2, "reason": "too many"}])));
    requested.expect(201);
    assert_eq!(requested.json()["return_status"], "requested");
    let ticket = requested.json()["id"].as_str().expect("id").to_owned();
    // Two lamps are on their way back: only one more can be returned.
    let over = open(&app, &customer.access, return_body(json!([{"product_id": lamp, "quantity": 2, "reason": "x"}])));
    assert_eq!(over.field_errors(), vec![("lines[0].quantity".to_owned(), "too_many".to_owned())]);

    app.post(&format!("/api/v1/support/tickets/{ticket}/return/approve"), Some(&customer.access), json!({}))
        .expect(403);
    app.post(&format!("/api/v1/support/tickets/{ticket}/return/approve"), Some(&agent.access), json!({})).expect(200);
    app.post(&format!("/api/v1/support/tickets/{ticket}/return/approve"), Some(&agent.access), json!({})).expect(200);
    let done = poll(&app, &format!("/api/v1/support/tickets/{ticket}"), &customer.access, |t| {
        t["return_status"] == "completed"
    });
    let last = done["messages"].as_array().expect("messages").last().cloned().expect("message");
    assert!(last["body"].as_str().unwrap_or("").contains("Refunded 18.00 EUR"), "{last}");
    assert_eq!(last["author"], "system", "the saga's report, not an agent's words");
    let reject_late = app.post(
        &format!("/api/v1/support/tickets/{ticket}/return/reject"),
        Some(&agent.access),
        json!({"reason": "no"}),
    );
    reject_late.expect(409);

    // Observed through the orders and catalog contexts.
    let paid = app.get(&format!("/api/v1/orders/{order_id}"), Some(&customer.access)).json();
    assert_eq!(paid["payment"]["captured"]["amount"], 3100);
    assert_eq!(paid["payment"]["refunded"]["amount"], 1800, "exactly the two lamps, once, despite approving twice");
    assert_eq!(paid["payment"]["status"], "partially_refunded");
    let stock = app.get(&format!("/api/v1/catalog/products/{lamp}/stock"), Some(&admin.access)).json();
    assert_eq!(stock["on_hand"], 9, "7 left after the sale, plus the 2 returned");

    // A rejected return refunds nothing.
    let second =
        open(&app, &customer.access, return_body(json!([{"product_id": mug, "quantity": 1, "reason": "chipped"}])));
    second.expect(201);
    let second = second.json()["id"].as_str().expect("id").to_owned();
    app.post(&format!("/api/v1/support/tickets/{second}/return/reject"), Some(&agent.access), json!({})).expect(422);
    let rejected = app.post(
        &format!("/api/v1/support/tickets/{second}/return/reject"),
        Some(&agent.access),
        json!({"reason": "used"}),
    );
    rejected.expect(200);
    assert_eq!(rejected.json()["return_status"], "rejected");
    app.post(&format!("/api/v1/support/tickets/{second}/return/approve"), Some(&agent.access), json!({})).expect(409);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let paid = app.get(&format!("/api/v1/orders/{order_id}"), Some(&customer.access)).json();
    assert_eq!(paid["payment"]["refunded"]["amount"], 1800);
}
