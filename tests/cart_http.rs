//! Carts over HTTP: guests with a cart token, customers, the merge when a
//! guest signs in, prices and availability from the catalog, error answers.

mod support;

use serde_json::{Value, json};
use support::{TestApp, unique_email};

fn product(app: &TestApp, admin: &str, sku: &str, price: i64, stock: i64) -> String {
    let reply = app.post(
        "/api/v1/catalog/products",
        Some(admin),
        json!({"sku": sku, "name": format!("Item {sku}"), "price": {"amount": price, "currency": "EUR"}, "stock": stock}),
    );
    reply.expect(201);
    reply.json()["id"].as_str().expect("id").to_owned()
}

/// A request with the guest cart token header (and optionally a customer).
fn with_token(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> support::Reply {
    let mut request = ureq::request(method, &format!("{}{path}", app.base_url)).set("X-Cart-Token", token);
    if let Some(bearer) = bearer {
        request = request.set("Authorization", &format!("Bearer {bearer}"));
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
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|name| response.header(&name).map(|v| (name.clone(), v.to_owned())))
        .collect();
    support::Reply { status, headers, text: response.into_string().unwrap_or_default() }
}

#[test]
fn a_guest_shops_then_signs_in_and_keeps_the_cart() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("merch"));
    let lamp = product(&app, &admin.access, "LAMP-1", 2500, 10);
    let mug = product(&app, &admin.access, "MUG-1", 900, 2);

    let empty = app.get("/api/v1/cart", None);
    empty.expect(200);
    assert_eq!(empty.json()["lines"], json!([]));
    assert_eq!(empty.header("x-cart-token"), None, "reading creates no cart");

    let first = app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), None, Some(&json!({"quantity": 2})));
    first.expect(200);
    let token = first.header("x-cart-token").expect("a new guest cart's token").to_owned();
    assert_eq!(first.json()["cart_token"], token.as_str());
    let cart =
        with_token(&app, "PUT", &format!("/api/v1/cart/items/{mug}"), &token, None, Some(json!({"quantity": 3})));
    cart.expect(200);
    let body = cart.json();
    insta::assert_json_snapshot!("guest_cart", body, {".lines[].product_id" => "[id]"});
    assert_eq!(body["total"], json!({"amount": 7700, "currency": "EUR"}));
    assert_eq!(body["checkout_ready"], false, "only 2 mugs are available");

    // The guest signs up; the next request with both merges the carts.
    let email = unique_email("guest");
    let customer = app.customer(&email);
    app.call("PUT", &format!("/api/v1/cart/items/{lamp}"), Some(&customer.access), Some(&json!({"quantity": 1})))
        .expect(200);
    let merged = with_token(&app, "GET", "/api/v1/cart", &token, Some(&customer.access), None);
    merged.expect(200);
    let quantities: Vec<(String, i64)> = merged.json()["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| (l["sku"].as_str().unwrap_or("").to_owned(), l["quantity"].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(quantities, vec![("LAMP-1".to_owned(), 3), ("MUG-1".to_owned(), 3)]);
    with_token(&app, "GET", "/api/v1/cart", &token, None, None).expect(404);

    app.delete(&format!("/api/v1/cart/items/{mug}"), Some(&customer.access)).expect(204);
    let after = app.get("/api/v1/cart", Some(&customer.access)).json();
    assert_eq!(after["lines"].as_array().map(Vec::len), Some(1));
    assert_eq!(after["checkout_ready"], true);
    app.delete("/api/v1/cart", Some(&customer.access)).expect(204);
    assert_eq!(app.get("/api/v1/cart", Some(&customer.access)).json()["lines"], json!([]));
}

#[test]
fn cart_mistakes_are_problems() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("merch"));
    let lamp = product(&app, &admin.access, "LAMP-2", 2500, 10);
    let customer = app.customer(&unique_email("buyer"));
    let put = |path: &str, body: Value| app.call("PUT", path, Some(&customer.access), Some(&body));

    for quantity in [0, 100, -1] {
        let reply = put(&format!("/api/v1/cart/items/{lamp}"), json!({"quantity": quantity}));
        reply.expect(422);
        assert_eq!(reply.field_errors(), vec![("quantity".to_owned(), "range".to_owned())], "{quantity}");
    }
    put(&format!("/api/v1/cart/items/{lamp}"), json!({})).expect(422);
    put(&format!("/api/v1/cart/items/{lamp}"), json!({"quantity": "two"})).expect(400);
    let unknown = put(&format!("/api/v1/cart/items/{}", uuid::Uuid::now_v7()), json!({"quantity": 1}));
    unknown.expect(422);
    assert_eq!(unknown.field_errors(), vec![("product_id".to_owned(), "unknown_product".to_owned())]);
    put("/api/v1/cart/items/not-a-uuid", json!({"quantity": 1})).expect(404);

    app.delete(&format!("/api/v1/catalog/products/{lamp}"), Some(&admin.access)).expect(204);
    let archived = put(&format!("/api/v1/cart/items/{lamp}"), json!({"quantity": 1}));
    archived.expect(422);

    with_token(&app, "GET", "/api/v1/cart", "ct_forged", None, None).expect(404);
    app.get("/api/v1/cart", Some("not-a-token")).expect(401);
}
