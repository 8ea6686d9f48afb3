//! A saga survives a kill: the real `tienda` binary is stopped dead with
//! SIGKILL at each checkout step in turn — right after the step's call and
//! before its outcome is recorded, the worst moment (a test-only fault point
//! holds it there) — then restarted. Every saga ends terminal and the
//! invariants hold: the order is confirmed once, stock is conserved and
//! nothing stays reserved, the payment is captured once.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";

struct Tienda {
    child: Child,
    base: String,
    log: Receiver<String>,
}

impl Drop for Tienda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path, fault: Option<&str>) -> Tienda {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tienda"));
    command
        .args(["--data-dir", &data.display().to_string(), "serve", "--bind", "127.0.0.1:0"])
        .env("TIENDA_AUTH__PASSWORD_HASHING", "insecure-test-only")
        .env("TIENDA_LOG_FORMAT", "json")
        .env("TIENDA_CHECKOUT__WAIT_MS", "300")
        // A killed process's relay leases expire quickly, so the next takes over.
        .env("TIENDA_EVENTS__LEASE_TTL_SECS", "2")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(step) = fault {
        command.env("TIENDA_TESTING__SAGA_HANG_AFTER_STEP", step);
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
    let mut tienda = Tienda { child, base: String::new(), log };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Ok(line) = tienda.log.recv_timeout(Duration::from_secs(60)) else { break };
        let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if let Some(address) = event["http.address"].as_str() {
            tienda.base = format!("http://{address}");
            return tienda;
        }
    }
    panic!("tienda did not start");
}

fn wait_for_line(tienda: &Tienda, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(line) = tienda.log.recv_timeout(Duration::from_millis(200))
            && line.contains(needle)
        {
            return;
        }
    }
    panic!("never saw `{needle}`");
}

fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut request = ureq::request(method, url);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    if method == "POST" && url.ends_with("/checkout") {
        request = request.set("Idempotency-Key", "kill-test");
    }
    let result = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    };
    let response = match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{error}"),
    };
    let status = response.status();
    (status, response.into_json().unwrap_or(Value::Null))
}

fn token(base: &str, email: &str) -> String {
    let (status, body) =
        call("POST", &format!("{base}/api/v1/sessions"), None, Some(json!({"email": email, "password": PASSWORD})));
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

fn killed_at(step: &str) {
    let data = tempfile::tempdir().expect("tempdir");
    let admin_email = format!("admin-{step}@example.com");
    let mut create = Command::new(env!("CARGO_BIN_EXE_tienda"))
        .args(["--data-dir", &data.path().display().to_string(), "admin", "create", "--email", &admin_email])
        .env("TIENDA_AUTH__PASSWORD_HASHING", "insecure-test-only")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("admin create");
    std::io::Write::write_all(&mut create.stdin.take().expect("stdin"), format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    assert!(create.wait().expect("wait").success());

    let first = start(data.path(), Some(step));
    let admin = token(&first.base, &admin_email);
    let (status, product) = call(
        "POST",
        &format!("{}/api/v1/catalog/products", first.base),
        Some(&admin),
        Some(json!({"sku": "KILL-1", "name": "Lamp", "price": {"amount": 1000, "currency": "EUR"}, "stock": 5})),
    );
    assert_eq!(status, 201, "{product}");
    let product_id = product["id"].as_str().expect("id").to_owned();
    let email = format!("customer-{step}@example.com");
    let (status, _) = call(
        "POST",
        &format!("{}/api/v1/users", first.base),
        None,
        Some(json!({"email": email, "password": PASSWORD, "display_name": "C"})),
    );
    assert_eq!(status, 201);
    let customer = token(&first.base, &email);
    let (status, _) = call(
        "PUT",
        &format!("{}/api/v1/cart/items/{product_id}", first.base),
        Some(&customer),
        Some(json!({"quantity": 2})),
    );
    assert_eq!(status, 200);
    let checkout = json!({
        "shipping_address": {"recipient": "C", "line1": "1 Main St", "city": "Town", "postal_code": "1000", "country": "ES"},
        "payment": {"token": "tok_visa"}
    });
    let (status, order) = call("POST", &format!("{}/api/v1/checkout", first.base), Some(&customer), Some(checkout));
    // Held at the fault point the order is still pending — except after the
    // last step, whose effect (confirmation) is already visible.
    assert!(status == 202 || (step == "confirm" && status == 201), "{status}: {order}");
    let order_id = order["id"].as_str().expect("id").to_owned();
    wait_for_line(&first, &format!("FAULT-POINT-REACHED {step}"));

    // SIGKILL: no shutdown, no cleanup.
    let status = Command::new("kill").args(["-9", &first.child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    drop(first);

    let second = start(data.path(), None);
    let deadline = Instant::now() + Duration::from_secs(30);
    let final_order = loop {
        let (_, order) = call("GET", &format!("{}/api/v1/orders/{order_id}", second.base), Some(&customer), None);
        if order["status"] != "pending" {
            break order;
        }
        assert!(Instant::now() < deadline, "the saga never finished after the restart (killed at {step})");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(final_order["status"], "confirmed", "killed at {step}: {final_order}");
    assert_eq!(final_order["payment"]["status"], "captured");
    assert_eq!(final_order["payment"]["captured"]["amount"], 2000, "captured once, in full");
    let (_, stock) =
        call("GET", &format!("{}/api/v1/catalog/products/{product_id}/stock", second.base), Some(&admin), None);
    assert_eq!(
        (stock["on_hand"].clone(), stock["reserved"].clone()),
        (json!(3), json!(0)),
        "killed at {step}: {stock}"
    );

    // And the saga itself ended: nothing left running or compensating.
    let sagas = kernel::db::ContextDatabase::open(kernel::db::DatabaseSettings {
        context: "orchestration",
        location: kernel::db::Location::Sqlite { path: data.path().join("orchestration.db").display().to_string() },
        role: None,
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
    })
    .expect("orchestration db");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut conn = sagas.conn().expect("conn");
        let all = orchestration::runner::list_sagas(&mut conn, None, None, 10).expect("sagas");
        assert_eq!(all.len(), 1);
        if all[0].state == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "killed at {step}: saga still {}", all[0].state);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn killed_after_reserving() {
    killed_at("reserve");
}

#[test]
fn killed_after_charging() {
    killed_at("charge");
}

#[test]
fn killed_after_committing() {
    killed_at("commit");
}

#[test]
fn killed_after_confirming() {
    killed_at("confirm");
}

fn admin_and_customer(data: &std::path::Path, tag: &str) -> (String, String) {
    let admin_email = format!("admin-ret-{tag}@example.com");
    let mut create = Command::new(env!("CARGO_BIN_EXE_tienda"))
        .args(["--data-dir", &data.display().to_string(), "admin", "create", "--email", &admin_email])
        .env("TIENDA_AUTH__PASSWORD_HASHING", "insecure-test-only")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("admin create");
    std::io::Write::write_all(&mut create.stdin.take().expect("stdin"), format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    assert!(create.wait().expect("wait").success());
    (admin_email, format!("customer-ret-{tag}@example.com"))
}

/// The return saga killed at `step`: approved in a process held at the fault
/// point, SIGKILLed, restarted — the return completes with one refund of
/// exactly the returned lines and one restock.
fn return_killed_at(step: &str) {
    let data = tempfile::tempdir().expect("tempdir");
    let (admin_email, email) = admin_and_customer(data.path(), step);

    // An ordinary process sells, ships, delivers and takes the return request.
    let first = start(data.path(), None);
    let admin = token(&first.base, &admin_email);
    let (_, product) = call(
        "POST",
        &format!("{}/api/v1/catalog/products", first.base),
        Some(&admin),
        Some(json!({"sku": "RET-K", "name": "Lamp", "price": {"amount": 700, "currency": "EUR"}, "stock": 5})),
    );
    let product_id = product["id"].as_str().expect("id").to_owned();
    call(
        "POST",
        &format!("{}/api/v1/users", first.base),
        None,
        Some(json!({"email": email, "password": PASSWORD, "display_name": "C"})),
    );
    let customer = token(&first.base, &email);
    call(
        "PUT",
        &format!("{}/api/v1/cart/items/{product_id}", first.base),
        Some(&customer),
        Some(json!({"quantity": 3})),
    );
    let (_, order) = call(
        "POST",
        &format!("{}/api/v1/checkout", first.base),
        Some(&customer),
        Some(
            json!({"shipping_address": {"recipient": "C", "line1": "1", "city": "T", "postal_code": "1", "country": "ES"}, "payment": {"token": "tok_visa"}}),
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let order_id = order["id"].as_str().expect("id").to_owned();
    while call("GET", &format!("{}/api/v1/orders/{order_id}", first.base), Some(&customer), None).1["status"]
        != "confirmed"
    {
        assert!(Instant::now() < deadline, "checkout did not confirm");
        std::thread::sleep(Duration::from_millis(50));
    }
    call("POST", &format!("{}/api/v1/admin/orders/{order_id}/ship", first.base), Some(&admin), Some(json!({})));
    call("POST", &format!("{}/api/v1/admin/orders/{order_id}/deliver", first.base), Some(&admin), Some(json!({})));
    let (status, ticket) = call(
        "POST",
        &format!("{}/api/v1/support/tickets", first.base),
        Some(&customer),
        Some(json!({"kind": "return", "subject": "Back", "body": "Two back.", "order_id": order_id,
                    "lines": [{"product_id": product_id, "quantity": 2, "reason": "too many"}]})),
    );
    assert_eq!(status, 201, "{ticket}");
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    drop(first);

    // The approval runs in a process that hangs at the fault point, and dies.
    let second = start(data.path(), Some(step));
    let (status, _) = call(
        "POST",
        &format!("{}/api/v1/support/tickets/{ticket_id}/return/approve", second.base),
        Some(&admin),
        Some(json!({})),
    );
    assert_eq!(status, 200);
    wait_for_line(&second, &format!("FAULT-POINT-REACHED {step}"));
    assert!(Command::new("kill").args(["-9", &second.child.id().to_string()]).status().expect("kill").success());
    drop(second);

    let third = start(data.path(), None);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, ticket) =
            call("GET", &format!("{}/api/v1/support/tickets/{ticket_id}", third.base), Some(&customer), None);
        if ticket["return_status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "return never completed after a kill at {step}: {ticket}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, order) = call("GET", &format!("{}/api/v1/orders/{order_id}", third.base), Some(&customer), None);
    assert_eq!(order["payment"]["refunded"]["amount"], 1400, "killed at {step}: one refund of the two lamps");
    let (_, stock) =
        call("GET", &format!("{}/api/v1/catalog/products/{product_id}/stock", third.base), Some(&admin), None);
    assert_eq!(stock["on_hand"], 4, "killed at {step}: 2 left after the sale, plus the 2 returned, once");
}

#[test]
fn return_killed_after_refunding() {
    return_killed_at("refund");
}

#[test]
fn return_killed_after_restocking() {
    return_killed_at("restock");
}

#[test]
fn return_killed_after_completing() {
    return_killed_at("complete");
}
