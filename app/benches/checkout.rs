//! Checkouts through the whole shop: HTTP `POST /checkout` with the saga
//! (reserve → charge → commit → confirm) running in process, on SQLite and,
//! with BENCH_DATABASE_URL, on PostgreSQL. Beside it, the same work done
//! directly through the services (no HTTP, no events, no saga runner) in the
//! same run, so the cost of the HTTP edge and the asynchronous saga shows as
//! a ratio.
//!
//!     cargo bench -p tienda --bench checkout
//!
//! Options: CHECKOUTS (default 300), THREADS (default 8).

use kernel::testing::ScratchPostgres;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tienda::{Settings, Shop};

const PASSWORD: &str = "correct horse battery staple";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

struct Fixture {
    shop: Arc<Shop>,
    product: kernel::ProductId,
}

fn fixture(settings: Settings) -> Fixture {
    let shop = Arc::new(Shop::assemble(settings).expect("assemble"));
    shop.migrate().expect("migrate");
    let product = shop
        .catalog
        .create_product(catalog::service::NewProduct {
            sku: catalog::domain::Sku::parse("BENCH-1").expect("sku"),
            name: "Bench lamp".into(),
            description: String::new(),
            price: kernel::Money::new(1000, kernel::Currency::parse("EUR").expect("EUR")),
            category_id: None,
            images: vec![],
            attributes: serde_json::Map::new(),
            active: true,
            initial_stock: 1_000_000,
        })
        .expect("product")
        .id;
    Fixture { shop, product }
}

/// Customers with one lamp in their cart each: (user id, access token).
fn customers(fixture: &Fixture, count: usize, tag: &str) -> Vec<(kernel::UserId, String)> {
    (0..count)
        .map(|n| {
            let email = format!("bench-{tag}-{n}-{}@example.com", uuid::Uuid::now_v7().simple());
            let account = fixture
                .shop
                .users
                .register(users::service::Registration {
                    email: users::domain::Email::parse(&email).expect("email"),
                    password: users::domain::NewPassword::parse(PASSWORD, None).expect("password"),
                    display_name: users::domain::DisplayName::parse("Bench").expect("name"),
                })
                .expect("register");
            let token = fixture.shop.users.login(&email, PASSWORD, None).expect("login").access_token;
            let owner = orders::cart::CartOwner { customer: Some(account.id), guest_token: None };
            fixture.shop.carts.set_quantity(&owner, fixture.product, 1).expect("cart");
            (account.id, token)
        })
        .collect()
}

fn address() -> serde_json::Value {
    serde_json::json!({"recipient": "B", "line1": "1 Main St", "city": "Town", "postal_code": "1000", "country": "ES"})
}

fn run(label: &str, settings: Settings, checkouts: usize, threads: usize) {
    let fixture = fixture(settings);
    let relays = fixture.shop.start_relays();
    let runner = fixture.shop.start_saga_runner();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (sender, receiver) = std::sync::mpsc::channel();
    let server_shop = fixture.shop.clone();
    let server = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = tienda::server::build(server_shop, listener).expect("server");
            sender.send(server.handle()).expect("handle");
            let _ = server.await;
        });
    });
    let handle = receiver.recv().expect("started");

    // Through HTTP and the saga.
    let buyers = customers(&fixture, checkouts, "http");
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let chunks: Vec<_> = buyers.chunks(checkouts.div_ceil(threads)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let base = base.clone();
                scope.spawn(move || {
                    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
                    chunk
                        .iter()
                        .map(|(_, token)| {
                            let at = Instant::now();
                            let response = agent
                                .post(&format!("{base}/api/v1/checkout"))
                                .set("Authorization", &format!("Bearer {token}"))
                                .set("Idempotency-Key", &uuid::Uuid::now_v7().to_string())
                                .send_json(serde_json::json!({"shipping_address": address(), "payment": {"token": "tok_visa"}}))
                                .expect("checkout");
                            assert_eq!(response.status(), 201);
                            at.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("thread")).collect()
    });
    let http_rate = checkouts as f64 / started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    // The saga's own latency, from the orders' timelines.
    let mut sagas: Vec<Duration> = buyers
        .iter()
        .flat_map(|(user, _)| fixture.shop.orders.history_of(*user, None, 10).expect("orders").0)
        .filter_map(|order| {
            let placed = order.timeline.iter().find(|t| t.status == "pending")?.at;
            let confirmed = order.timeline.iter().find(|t| t.status == "confirmed")?.at;
            (confirmed - placed).to_std().ok()
        })
        .collect();
    sagas.sort_unstable();
    assert_eq!(sagas.len(), checkouts, "every checkout confirmed");

    // The same work straight through the services.
    let direct_buyers = customers(&fixture, checkouts, "direct");
    let started = Instant::now();
    std::thread::scope(|scope| {
        for chunk in direct_buyers.chunks(checkouts.div_ceil(threads)) {
            let shop = fixture.shop.clone();
            scope.spawn(move || {
                actix_web::rt::System::new().block_on(async {
                    for (user, _) in chunk {
                        let owner = orders::cart::CartOwner { customer: Some(*user), guest_token: None };
                        let stored = shop.carts.stored(&owner).expect("cart");
                        let priced = shop.carts.price(stored.clone()).await.expect("priced");
                        let address = serde_json::from_value(address()).expect("address");
                        let order =
                            shop.orders.place(*user, &stored.id, &priced, address, "tok_visa".into()).expect("place");
                        let lines = vec![catalog_api::StockLine { product_id: order.lines[0].product_id, quantity: 1 }];
                        shop.catalog.reserve(order.id, &lines, Duration::from_secs(900)).expect("reserve");
                        shop.orders.charge(order.id).expect("charge");
                        shop.catalog.commit(order.id).expect("commit");
                        shop.orders.confirm(order.id).expect("confirm");
                    }
                });
            });
        }
    });
    let direct_rate = checkouts as f64 / started.elapsed().as_secs_f64();

    println!(
        "{label:<9} HTTP + saga: {http_rate:>7.1} checkouts/s (request p50 {:.1} ms, p99 {:.1} ms; saga p50 {:.1} ms, p99 {:.1} ms) \
         | direct: {direct_rate:>7.1} checkouts/s | ratio {:.2}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&sagas, 0.5),
        percentile(&sagas, 0.99),
        http_rate / direct_rate
    );
    actix_web::rt::System::new().block_on(handle.stop(true));
    let _ = server.join();
    drop(runner);
    for relay in relays {
        relay.stop();
    }
}

fn settings(data: &std::path::Path) -> Settings {
    let mut settings = Settings { data_dir: data.to_path_buf(), workers: 2, ..Settings::default() };
    // Checkout is measured, not password hashing.
    settings.auth.password_hashing = users::passwords::HashingProfile::InsecureTestOnly;
    settings.checkout.wait_ms = 60_000;
    settings
}

fn main() {
    let checkouts = env_number("CHECKOUTS", 300);
    let threads = env_number("THREADS", 8).max(1);
    let data = tempfile::tempdir().expect("tempdir");
    run("sqlite", settings(data.path()), checkouts, threads);
    if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
        let scratch = ScratchPostgres::create(&url);
        let data = tempfile::tempdir().expect("tempdir");
        let mut settings = settings(data.path());
        settings.database.url = Some(scratch.url().to_owned());
        settings.database.role_prefix = scratch.role_prefix().to_owned();
        run("postgres", settings, checkouts, threads);
    }
}
