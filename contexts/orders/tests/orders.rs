//! Orders and payments on real databases: checkout turns a cart into one
//! pending order (never two), payments are idempotent per order, and the
//! status only moves along legal transitions.

use catalog_api::{MockCatalogApi, ProductSnapshot};
use chrono::Utc;
use kernel::clock::ManualClock;
use kernel::events::Outbox;
use kernel::testing::{TestDatabase, test_databases};
use kernel::{Currency, Money, OrderId, ProductId, UserId};
use orders::cart::{CartOwner, CartService};
use orders::orders::{KeyState, OrderError, OrderService, ShippingAddress};
use orders::payments::SandboxGateway;
use orders_api::{ChargeOutcome, OrdersApiError};
use std::sync::Arc;
use std::time::Duration;

struct Shop {
    carts: CartService,
    orders: Arc<OrderService>,
    gateway: Arc<SandboxGateway>,
    lamp: ProductId,
    db: TestDatabase,
}

fn shops() -> Vec<Shop> {
    test_databases(orders::CONTEXT, orders::migrate)
        .into_iter()
        .map(|db| {
            let lamp = ProductId::new();
            let snapshot = ProductSnapshot {
                id: lamp,
                sku: "LAMP".into(),
                name: "Lamp".into(),
                price: Money::new(2500, Currency::parse("EUR").expect("EUR")),
                active: true,
                available: 100,
            };
            let mut catalog = MockCatalogApi::new();
            catalog.expect_product_snapshots().returning(move |ids| {
                Ok(ids.iter().filter(|id| **id == snapshot.id).map(|_| snapshot.clone()).collect())
            });
            let clock = Arc::new(ManualClock::new(Utc::now()));
            let gateway = Arc::new(SandboxGateway::new(Duration::from_millis(1)));
            Shop {
                carts: CartService::new(db.db.clone(), clock.clone(), Arc::new(catalog)),
                orders: Arc::new(OrderService::new(
                    db.db.clone(),
                    clock.clone(),
                    Outbox::new(orders::CONTEXT, clock),
                    gateway.clone(),
                )),
                gateway,
                lamp,
                db,
            }
        })
        .collect()
}

fn address() -> ShippingAddress {
    ShippingAddress {
        recipient: "Ana".into(),
        line1: "Gran Vía 1".into(),
        line2: None,
        city: "Madrid".into(),
        postal_code: "28013".into(),
        country: "ES".into(),
    }
}

impl Shop {
    fn checkout(&self, user: UserId, token: &str) -> Result<orders::orders::Order, OrderError> {
        let owner = CartOwner { customer: Some(user), guest_token: None };
        let stored = self.carts.stored(&owner).expect("cart");
        let priced = actix_web::rt::System::new().block_on(self.carts.price(stored.clone())).expect("priced");
        self.orders.place(user, &stored.id, &priced, address(), token.to_owned())
    }
}

#[test]
fn checkout_snapshots_the_cart_into_a_pending_order_and_empties_it() {
    for shop in shops() {
        let user = UserId::new();
        let owner = CartOwner { customer: Some(user), guest_token: None };
        shop.carts.set_quantity(&owner, shop.lamp, 3).expect("cart");
        let order = shop.checkout(user, "tok_visa").expect("order");
        assert_eq!(order.status, "pending");
        assert_eq!(order.total.amount, 7500);
        assert_eq!(
            (order.lines[0].name.as_str(), order.lines[0].unit_price.amount, order.lines[0].quantity),
            ("Lamp", 2500, 3)
        );
        assert_eq!(order.timeline.len(), 1);
        assert!(shop.carts.stored(&owner).expect("cart").lines.is_empty(), "{}", shop.db.label());
        assert!(matches!(shop.checkout(user, "tok_visa"), Err(OrderError::EmptyCart)));
        assert!(matches!(shop.orders.order_of(UserId::new(), order.id), Err(OrderError::NotFound)), "not yours");
        let (history, more) = shop.orders.history_of(user, None, 10).expect("history");
        assert_eq!((history.len(), more), (1, false));
        let mut conn = shop.db.db.conn().expect("conn");
        let events = kernel::events::admin::recorded_events(&mut conn).expect("outbox");
        assert_eq!(events.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(), vec!["orders.OrderPlaced.v1"]);
    }
}

#[test]
fn two_checkouts_of_one_cart_at_once_make_one_order() {
    for shop in shops() {
        let user = UserId::new();
        shop.carts.set_quantity(&CartOwner { customer: Some(user), guest_token: None }, shop.lamp, 1).expect("cart");
        let owner = CartOwner { customer: Some(user), guest_token: None };
        let stored = shop.carts.stored(&owner).expect("cart");
        let priced = actix_web::rt::System::new().block_on(shop.carts.price(stored.clone())).expect("priced");
        let results: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    let (orders, priced, cart) = (shop.orders.clone(), priced.clone(), stored.id.clone());
                    scope.spawn(move || orders.place(user, &cart, &priced, address(), "tok_visa".into()).is_ok())
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{}", shop.db.label());
        assert_eq!(shop.orders.history_of(user, None, 10).expect("history").0.len(), 1);
    }
}

#[test]
fn payments_are_idempotent_per_order_and_refunds_never_exceed_captures() {
    for shop in shops() {
        let user = UserId::new();
        shop.carts.set_quantity(&CartOwner { customer: Some(user), guest_token: None }, shop.lamp, 2).expect("cart");
        let order = shop.checkout(user, "tok_visa").expect("order");
        let first = shop.orders.charge(order.id).expect("charge");
        assert!(matches!(first, ChargeOutcome::Captured(m) if m.amount == 5000));
        assert_eq!(shop.orders.charge(order.id).expect("again"), first);
        assert_eq!(shop.gateway.captured().len(), 1, "{}: one charge", shop.db.label());
        let partial = Money::new(1500, Currency::parse("EUR").expect("EUR"));
        assert_eq!(shop.orders.refund(order.id, Some(partial)).expect("partial").amount, 1500);
        assert_eq!(shop.orders.order(order.id).expect("order").payment.status, "partially_refunded");
        assert_eq!(shop.orders.refund(order.id, None).expect("the rest").amount, 3500);
        assert_eq!(shop.orders.refund(order.id, None).expect("nothing left").amount, 0);
        let after = shop.orders.order(order.id).expect("order");
        assert_eq!(
            (after.payment.status.as_str(), after.payment.captured.amount, after.payment.refunded.amount),
            ("refunded", 5000, 5000)
        );

        shop.carts.set_quantity(&CartOwner { customer: Some(user), guest_token: None }, shop.lamp, 1).expect("cart");
        let declined = shop.checkout(user, "tok_chargeDeclined").expect("order");
        assert_eq!(shop.orders.charge(declined.id).expect("declined"), ChargeOutcome::Declined("card_declined".into()));
        shop.carts.set_quantity(&CartOwner { customer: Some(user), guest_token: None }, shop.lamp, 1).expect("cart");
        let flaky = shop.checkout(user, "tok_processingError").expect("order");
        assert!(matches!(shop.orders.charge(flaky.id), Err(OrdersApiError::Transient(_))));
        assert!(matches!(shop.orders.charge(OrderId::new()), Err(OrdersApiError::UnknownOrder(_))));
    }
}

#[test]
fn status_moves_only_along_legal_transitions() {
    for shop in shops() {
        let user = UserId::new();
        shop.carts.set_quantity(&CartOwner { customer: Some(user), guest_token: None }, shop.lamp, 1).expect("cart");
        let order = shop.checkout(user, "tok_visa").expect("order");
        shop.orders.confirm(order.id).expect("confirm");
        shop.orders.confirm(order.id).expect("idempotent");
        assert!(matches!(shop.orders.reject(order.id, "out_of_stock"), Err(OrdersApiError::IllegalTransition(..))));
        let confirmed = shop.orders.order(order.id).expect("order");
        assert_eq!(confirmed.status, "confirmed");
        assert_eq!(
            confirmed.timeline.iter().map(|t| t.status.as_str()).collect::<Vec<_>>(),
            vec!["pending", "confirmed"]
        );

        shop.carts.set_quantity(&CartOwner { customer: Some(user), guest_token: None }, shop.lamp, 1).expect("cart");
        let other = shop.checkout(user, "tok_visa").expect("order");
        shop.orders.reject(other.id, "out_of_stock").expect("reject");
        let rejected = shop.orders.order(other.id).expect("order");
        assert_eq!(
            (rejected.status.as_str(), rejected.rejection_reason.as_deref()),
            ("rejected", Some("out_of_stock"))
        );
        assert!(
            matches!(shop.orders.confirm(other.id), Err(OrdersApiError::IllegalTransition(..))),
            "{}",
            shop.db.label()
        );
    }
}

#[test]
fn idempotency_keys_replay_refuse_and_wait() {
    for shop in shops() {
        let user = UserId::new();
        assert_eq!(shop.orders.claim_key(user, "k1", "hash-a").expect("claim"), KeyState::Fresh);
        assert_eq!(shop.orders.claim_key(user, "k1", "hash-a").expect("claim"), KeyState::InFlight);
        assert_eq!(shop.orders.claim_key(user, "k1", "hash-b").expect("claim"), KeyState::Mismatch);
        shop.orders.finish_key(user, "k1", 201, "{\"id\":1}").expect("finish");
        assert_eq!(
            shop.orders.claim_key(user, "k1", "hash-a").expect("claim"),
            KeyState::Done { status: 201, body: "{\"id\":1}".into() }
        );
        // Keys are per customer.
        assert_eq!(shop.orders.claim_key(UserId::new(), "k1", "hash-a").expect("claim"), KeyState::Fresh);
        assert_eq!(shop.orders.claim_key(user, "k2", "h").expect("claim"), KeyState::Fresh);
        shop.orders.release_key(user, "k2").expect("release");
        assert_eq!(shop.orders.claim_key(user, "k2", "h").expect("claim"), KeyState::Fresh, "{}", shop.db.label());
    }
}

#[test]
fn the_published_api_summarises_orders_for_other_contexts() {
    use orders_api::OrdersApi;
    for shop in shops() {
        let user = UserId::new();
        shop.carts.set_quantity(&CartOwner { customer: Some(user), guest_token: None }, shop.lamp, 2).expect("cart");
        let order = shop.checkout(user, "tok_visa").expect("order");
        let api = orders::InProcessOrdersApi::new(shop.orders.clone());
        actix_web::rt::System::new().block_on(async {
            let summary = api.order_summary(order.id).await.expect("answer").expect("exists");
            assert_eq!((summary.user_id, summary.status.as_str(), summary.total.amount), (user, "pending", 5000));
            assert_eq!((summary.lines[0].name.as_str(), summary.lines[0].quantity), ("Lamp", 2));
            assert!(matches!(api.charge(order.id).await, Ok(ChargeOutcome::Captured(_))));
            let seven = Money::new(700, Currency::parse("EUR").expect("EUR"));
            let refunded = api.refund(order.id, Some(seven), "return T-1".into()).await.expect("refund");
            assert_eq!(refunded.amount, 700);
            let again = api.refund(order.id, Some(seven), "return T-1".into()).await.expect("repeat");
            assert_eq!(again.amount, 700, "the same key refunds once");
            let summary = api.order_summary(order.id).await.expect("answer").expect("exists");
            assert_eq!((summary.captured.amount, summary.refunded.amount), (5000, 700), "{}", shop.db.label());
            assert_eq!(api.order_summary(OrderId::new()).await.expect("answer"), None);
        });
    }
}
