//! The catalog over HTTP: products, categories, images, stock and search,
//! with their error answers and response shapes.

mod support;

use serde_json::{Value, json};
use support::{TestApp, unique_email};

fn product_body(sku: &str, name: &str, price: i64, stock: i64, category: Option<&str>) -> Value {
    json!({
        "sku": sku,
        "name": name,
        "description": format!("{name}, described."),
        "price": {"amount": price, "currency": "EUR"},
        "category_id": category,
        "images": [{"url": "https://img.example.com/a.jpg", "alt": "Front view"}],
        "attributes": {"colour": "black"},
        "stock": stock
    })
}

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "tiendaBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(file) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";

#[test]
fn admins_manage_products_and_everyone_reads_them() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("catalog-admin"));
    let customer = app.customer(&unique_email("shopper"));

    let body = product_body("WH-1000XM4", "Wireless Headphones", 34900, 7, None);
    app.post("/api/v1/catalog/products", None, body.clone()).expect(401);
    app.post("/api/v1/catalog/products", Some(&customer.access), body.clone()).expect(403);
    let created = app.post("/api/v1/catalog/products", Some(&admin.access), body.clone());
    created.expect(201);
    let product = created.json();
    insta::assert_json_snapshot!("product_created", product, {
        ".id" => "[id]", ".images[].id" => "[id]", ".created_at" => "[time]", ".updated_at" => "[time]"
    });
    let id = product["id"].as_str().expect("id").to_owned();
    let duplicate = app.post(
        "/api/v1/catalog/products",
        Some(&admin.access),
        json!({"sku": "wh-1000xm4", "name": "Copy", "price": {"amount": 1, "currency": "EUR"}}),
    );
    duplicate.expect(409);
    assert_eq!(duplicate.problem_code(), "sku_taken");

    let public = app.get(&format!("/api/v1/catalog/products/{id}"), None);
    public.expect(200);
    assert_eq!(public.json()["available"], 7);
    assert_eq!(public.json()["in_stock"], true);
    app.get(&format!("/api/v1/catalog/products/{}", uuid::Uuid::now_v7()), None).expect(404);
    app.get("/api/v1/catalog/products/not-an-id", None).expect(404);

    let patched = app.patch(
        &format!("/api/v1/catalog/products/{id}"),
        Some(&admin.access),
        json!({"price": {"amount": 29900, "currency": "EUR"}, "name": "Wireless Headphones II"}),
    );
    patched.expect(200);
    assert_eq!(patched.json()["price"], json!({"amount": 29900, "currency": "EUR"}));
    app.patch(&format!("/api/v1/catalog/products/{id}"), Some(&customer.access), json!({"name": "x"})).expect(403);
    app.patch(&format!("/api/v1/catalog/products/{}", uuid::Uuid::now_v7()), Some(&admin.access), json!({"name": "x"}))
        .expect(404);

    app.delete(&format!("/api/v1/catalog/products/{id}"), Some(&customer.access)).expect(403);
    app.delete(&format!("/api/v1/catalog/products/{id}"), Some(&admin.access)).expect(204);
    let archived = app.get(&format!("/api/v1/catalog/products/{id}"), None);
    archived.expect(200);
    assert_eq!(archived.json()["archived"], true);
    assert_eq!(archived.json()["in_stock"], false);
    let search = app.get("/api/v1/catalog/products?q=headphones", None).json();
    assert_eq!(search["items"].as_array().map(Vec::len), Some(0), "archived products are hidden from shoppers");
}

#[test]
fn product_input_is_validated_field_by_field() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("validator"));
    let reply = app.post(
        "/api/v1/catalog/products",
        Some(&admin.access),
        json!({
            "sku": "has space",
            "name": "   ",
            "price": {"amount": -5, "currency": "XXX"},
            "images": [{"url": "javascript:alert(1)", "alt": ""}],
            "stock": -1
        }),
    );
    reply.expect(422);
    let mut fields: Vec<String> = reply.field_errors().into_iter().map(|(f, _)| f).collect();
    fields.sort();
    assert_eq!(
        fields,
        vec!["images[0].alt", "images[0].url", "name", "price.amount", "price.currency", "sku", "stock"],
        "{}",
        reply.text
    );
    app.post("/api/v1/catalog/products", Some(&admin.access), json!({})).expect(422);
    app.post("/api/v1/catalog/products", Some(&admin.access), json!({"sku": 5})).expect(400);
    let unknown_category = app.post(
        "/api/v1/catalog/products",
        Some(&admin.access),
        json!({"sku": "CAT-1", "name": "Orphan", "price": {"amount": 100, "currency": "EUR"}, "category_id": uuid::Uuid::now_v7()}),
    );
    unknown_category.expect(422);
    assert_eq!(unknown_category.field_errors(), vec![("category_id".to_owned(), "unknown_category".to_owned())]);
}

#[test]
fn the_category_tree() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("tree"));
    let create = |name: &str, slug: &str, parent: Option<&str>| {
        app.post(
            "/api/v1/catalog/categories",
            Some(&admin.access),
            json!({"name": name, "slug": slug, "parent_id": parent}),
        )
    };
    let audio = create("Audio", "audio", None);
    audio.expect(201);
    let audio_id = audio.json()["id"].as_str().expect("id").to_owned();
    let headphones = create("Headphones", "headphones", Some(&audio_id));
    headphones.expect(201);
    let headphones_id = headphones.json()["id"].as_str().expect("id").to_owned();
    create("In-ear", "in-ear", Some(&headphones_id)).expect(201);
    create("Kitchen", "kitchen", None).expect(201);

    let duplicate = create("Audio again", "audio", None);
    duplicate.expect(409);
    assert_eq!(duplicate.problem_code(), "slug_taken");
    assert_eq!(create("Bad", "Bad Slug", None).field_errors(), vec![("slug".to_owned(), "invalid_slug".to_owned())]);
    create("Orphan", "orphan", Some(&uuid::Uuid::now_v7().to_string())).expect(422);
    let customer = app.customer(&unique_email("browser"));
    app.post("/api/v1/catalog/categories", Some(&customer.access), json!({"name": "X", "slug": "x"})).expect(403);

    let tree = app.get("/api/v1/catalog/categories", None);
    tree.expect(200);
    insta::assert_json_snapshot!("category_tree", tree.json(), {
        ".items[].id" => "[id]", ".items[].children[].id" => "[id]", ".items[].children[].parent_id" => "[id]",
        ".items[].children[].children[].id" => "[id]", ".items[].children[].children[].parent_id" => "[id]"
    });

    let cycle = app.patch(
        &format!("/api/v1/catalog/categories/{audio_id}"),
        Some(&admin.access),
        json!({"parent_id": headphones_id}),
    );
    cycle.expect(409);
    assert_eq!(cycle.problem_code(), "category_cycle");
    let renamed = app.patch(
        &format!("/api/v1/catalog/categories/{headphones_id}"),
        Some(&admin.access),
        json!({"name": "Headsets", "parent_id": null}),
    );
    renamed.expect(200);
    assert_eq!(renamed.json()["parent_id"], Value::Null);

    let not_empty = app.delete(&format!("/api/v1/catalog/categories/{headphones_id}"), Some(&admin.access));
    not_empty.expect(409);
    assert_eq!(not_empty.problem_code(), "category_not_empty");
    app.delete(&format!("/api/v1/catalog/categories/{audio_id}"), Some(&admin.access)).expect(204);
    app.delete(&format!("/api/v1/catalog/categories/{audio_id}"), Some(&admin.access)).expect(404);
}

#[test]
fn images_are_checked_by_content_stored_and_served() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("photographer"));
    let id = app
        .post("/api/v1/catalog/products", Some(&admin.access), product_body("IMG-1", "Lamp", 1000, 1, None))
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/v1/catalog/products/{id}/images");

    let (content_type, body) = multipart(&[("file", Some("lamp.png"), PNG), ("alt", None, b"The lamp, lit")]);
    let uploaded = app.call_raw("POST", &path, Some(&admin.access), &content_type, &body);
    uploaded.expect(201);
    let url = uploaded.json()["url"].as_str().expect("url").to_owned();
    let served = app.get(&url, None);
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("image/png"));
    let product = app.get(&format!("/api/v1/catalog/products/{id}"), None).json();
    let alts: Vec<&str> =
        product["images"].as_array().expect("images").iter().map(|i| i["alt"].as_str().unwrap_or("")).collect();
    assert_eq!(alts, vec!["Front view", "The lamp, lit"], "linked first, uploads after");

    let (content_type, body) = multipart(&[("file", Some("evil.png"), b"<svg onload=alert(1)>"), ("alt", None, b"x")]);
    let refused = app.call_raw("POST", &path, Some(&admin.access), &content_type, &body);
    refused.expect(415);
    assert_eq!(refused.problem_code(), "unsupported_image");
    let big = [PNG, &vec![0u8; 5 * 1024 * 1024]].concat();
    let (content_type, body) = multipart(&[("file", Some("big.png"), &big), ("alt", None, b"big")]);
    app.call_raw("POST", &path, Some(&admin.access), &content_type, &body).expect(413);
    let (content_type, body) = multipart(&[("file", Some("lamp.png"), PNG)]);
    app.call_raw("POST", &path, Some(&admin.access), &content_type, &body).expect(422);
    app.call_raw("POST", &path, Some(&admin.access), "application/json", b"{}").expect(415);
    let (content_type, body) = multipart(&[("file", Some("lamp.png"), PNG), ("alt", None, b"x")]);
    app.call_raw(
        "POST",
        &format!("/api/v1/catalog/products/{}/images", uuid::Uuid::now_v7()),
        Some(&admin.access),
        &content_type,
        &body,
    )
    .expect(404);

    let image_id = uploaded.json()["id"].as_str().expect("id").to_owned();
    app.delete(&format!("/api/v1/catalog/products/{id}/images/{image_id}"), Some(&admin.access)).expect(204);
    app.delete(&format!("/api/v1/catalog/products/{id}/images/{image_id}"), Some(&admin.access)).expect(404);
    app.get(&url, None).expect(404);
    app.get("/api/v1/catalog/images/..%2F..%2Fsecrets%2Fsigning.key", None).expect(404);
}

#[test]
fn stock_adjustments_keep_an_audit_trail_and_respect_reservations() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("stock"));
    let id = app
        .post("/api/v1/catalog/products", Some(&admin.access), product_body("STK-1", "Mug", 900, 3, None))
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/v1/catalog/products/{id}/stock");
    let added = app.post(&path, Some(&admin.access), json!({"delta": 5, "reason": "delivery PO-77"}));
    added.expect(200);
    assert_eq!((added.json()["on_hand"].clone(), added.json()["available"].clone()), (json!(8), json!(8)));

    // Reserve six through the published CatalogApi, as checkout would.
    let product_id = kernel::ProductId::parse(&id).expect("id");
    app.shop
        .catalog
        .reserve(
            kernel::OrderId::new(),
            &[catalog_api::StockLine { product_id, quantity: 6 }],
            std::time::Duration::from_secs(60),
        )
        .expect("reserve");
    let below = app.post(&path, Some(&admin.access), json!({"delta": -3, "reason": "breakage"}));
    below.expect(409);
    assert_eq!(below.problem_code(), "stock_below_reserved");
    app.post(&path, Some(&admin.access), json!({"delta": -2, "reason": "breakage"})).expect(200);
    app.post(&path, Some(&admin.access), json!({"delta": 0, "reason": "nothing"})).expect(422);
    app.post(&path, Some(&admin.access), json!({"delta": 1})).expect(422);
    let customer = app.customer(&unique_email("peek"));
    app.post(&path, Some(&customer.access), json!({"delta": 1, "reason": "x"})).expect(403);
    app.get(&path, Some(&customer.access)).expect(403);

    let stock = app.get(&path, Some(&admin.access)).json();
    assert_eq!(
        (stock["on_hand"].clone(), stock["reserved"].clone(), stock["available"].clone()),
        (json!(6), json!(6), json!(0))
    );
    let reasons: Vec<&str> =
        stock["adjustments"].as_array().expect("trail").iter().map(|a| a["reason"].as_str().unwrap_or("")).collect();
    assert_eq!(reasons, vec!["breakage", "delivery PO-77", "initial stock"]);
    assert_eq!(app.get(&format!("/api/v1/catalog/products/{id}"), None).json()["in_stock"], false);
}

#[test]
fn search_over_http_with_filters_pages_and_facets() {
    let app = TestApp::spawn();
    let admin = app.admin(&unique_email("search"));
    let audio = app
        .post("/api/v1/catalog/categories", Some(&admin.access), json!({"name": "Audio", "slug": "audio"}))
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for n in 0..7 {
        app.post(
            "/api/v1/catalog/products",
            Some(&admin.access),
            product_body(&format!("SPK-{n}"), &format!("Wireless Speaker {n}"), 1000 + n * 100, n % 2, Some(&audio)),
        )
        .expect(201);
    }
    app.post("/api/v1/catalog/products", Some(&admin.access), product_body("KTL-1", "Kettle", 2500, 4, None))
        .expect(201);

    let first = app.get("/api/v1/catalog/products?q=wirel&limit=3&sort=price_asc", None);
    first.expect(200);
    let body = first.json();
    assert_eq!(body["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(body["facets"]["categories"][0]["slug"], "audio");
    assert_eq!(body["facets"]["categories"][0]["count"], 7);
    let mut prices = Vec::new();
    let mut page = body;
    loop {
        prices.extend(
            page["items"].as_array().expect("items").iter().map(|p| p["price"]["amount"].as_i64().unwrap_or(0)),
        );
        let Some(cursor) = page["next_cursor"].as_str().map(str::to_owned) else { break };
        page =
            app.get(&format!("/api/v1/catalog/products?q=wirel&limit=3&sort=price_asc&cursor={cursor}"), None).json();
    }
    assert_eq!(prices, vec![1000, 1100, 1200, 1300, 1400, 1500, 1600]);

    let in_stock =
        app.get("/api/v1/catalog/products?category=audio&in_stock=true&min_price=1100&max_price=1500", None).json();
    let skus: Vec<&str> =
        in_stock["items"].as_array().expect("items").iter().map(|p| p["sku"].as_str().unwrap_or("")).collect();
    assert_eq!(skus, vec!["SPK-5", "SPK-3", "SPK-1"]);

    app.get("/api/v1/catalog/products?sort=cheapest", None).expect(422);
    app.get("/api/v1/catalog/products?min_price=50&max_price=10", None).expect(422);
    app.get("/api/v1/catalog/products?min_price=abc", None).expect(400);
    app.get("/api/v1/catalog/products?cursor=garbage", None).expect(400);
    let newest_cursor =
        app.get("/api/v1/catalog/products?limit=1", None).json()["next_cursor"].as_str().expect("cursor").to_owned();
    app.get(&format!("/api/v1/catalog/products?sort=price_desc&cursor={newest_cursor}"), None).expect(400);
    app.get("/api/v1/catalog/products?category=unknown", None).expect(422);
    app.get("/api/v1/catalog/products?limit=0", None).expect(422);
}
