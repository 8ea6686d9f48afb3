//! The checkout saga alone: its runner on real databases, with the catalog
//! and orders contexts mocked through their published traits (mockall).

use catalog_api::{MockCatalogApi, Reservation, ReservationState, StockError, StockLine};
use chrono::Utc;
use kernel::Clock;
use kernel::clock::ManualClock;
use kernel::events::Wake;
use kernel::testing::{TestDatabase, test_databases};
use kernel::{Currency, Money, OrderId, ProductId};
use mockall::predicate::eq;
use orchestration::runner::{FaultInjection, SagaRunner, list_sagas, saga, start_checkout};
use orders_api::{ChargeOutcome, MockOrdersApi, OrdersApiError};
use std::sync::Arc;

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::parse("EUR").expect("EUR"))
}

fn reservation(order: OrderId, state: ReservationState) -> Reservation {
    Reservation { order_id: order, lines: vec![], expires_at: Utc::now(), state }
}

fn lines() -> Vec<StockLine> {
    vec![StockLine { product_id: ProductId::new(), quantity: 2 }]
}

/// Runs the saga to its end and returns its state and step log.
fn run(
    db: &TestDatabase,
    clock: Arc<ManualClock>,
    catalog: MockCatalogApi,
    orders: MockOrdersApi,
) -> (String, Vec<(String, String)>) {
    run_with(db, clock, catalog, orders, support_api::MockSupportApi::new())
}

fn run_with(
    db: &TestDatabase,
    clock: Arc<ManualClock>,
    catalog: MockCatalogApi,
    orders: MockOrdersApi,
    support: support_api::MockSupportApi,
) -> (String, Vec<(String, String)>) {
    let runner = SagaRunner::new(
        db.db.clone(),
        clock.clone(),
        Arc::new(catalog),
        Arc::new(orders),
        Arc::new(support),
        Wake::new(),
        FaultInjection::default(),
    );
    actix_web::rt::System::new().block_on(async {
        for _ in 0..50 {
            runner.run_once().await.expect("pass");
            // Let backoffs come due.
            clock.advance(chrono::Duration::seconds(60));
        }
    });
    let mut conn = db.db.conn().expect("conn");
    let sagas = list_sagas(&mut conn, None, None, 10).expect("sagas");
    let view = saga(&mut conn, &sagas[0].id).expect("saga").expect("exists");
    (view.saga.state, view.steps.into_iter().map(|s| (s.step, s.outcome)).collect())
}

fn started(db: &TestDatabase, clock: &ManualClock, order: OrderId) {
    let mut conn = db.db.conn().expect("conn");
    assert!(start_checkout(&mut conn, order, lines(), clock.now().naive_utc()).expect("start"));
    assert!(!start_checkout(&mut conn, order, lines(), clock.now().naive_utc()).expect("again"), "one saga per order");
}

fn steps(log: &[(String, String)]) -> Vec<&str> {
    log.iter().map(|(step, _)| step.as_str()).collect()
}

#[test]
fn the_happy_path_reserves_charges_commits_and_confirms() {
    for db in test_databases(orchestration::CONTEXT, orchestration::migrate) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let order = OrderId::new();
        started(&db, &clock, order);
        let mut catalog = MockCatalogApi::new();
        catalog.expect_reserve().times(1).returning(move |o, _, _| Ok(reservation(o, ReservationState::Held)));
        catalog
            .expect_commit()
            .with(eq(order))
            .times(1)
            .returning(move |o| Ok(reservation(o, ReservationState::Committed)));
        let mut orders = MockOrdersApi::new();
        orders.expect_charge().with(eq(order)).times(1).returning(|_| Ok(ChargeOutcome::Captured(eur(2000))));
        orders.expect_confirm().with(eq(order)).times(1).returning(|_| Ok(()));
        let (state, log) = run(&db, clock, catalog, orders);
        assert_eq!(state, "completed", "{}", db.label());
        assert_eq!(steps(&log), vec!["reserve", "charge", "commit", "confirm"]);
    }
}

#[test]
fn out_of_stock_rejects_without_charging() {
    for db in test_databases(orchestration::CONTEXT, orchestration::migrate) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let order = OrderId::new();
        started(&db, &clock, order);
        let mut catalog = MockCatalogApi::new();
        catalog.expect_reserve().times(1).returning(|_, _, _| {
            Err(StockError::InsufficientStock { product_id: ProductId::new(), requested: 2, available: 0 })
        });
        let mut orders = MockOrdersApi::new();
        orders.expect_charge().never();
        orders.expect_reject().with(eq(order), eq("out_of_stock".to_owned())).times(1).returning(|_, _| Ok(()));
        let (state, log) = run(&db, clock, catalog, orders);
        assert_eq!(state, "failed");
        assert_eq!(steps(&log), vec!["reserve", "reject"], "{}", db.label());
    }
}

#[test]
fn a_declined_payment_releases_the_stock_then_rejects() {
    for db in test_databases(orchestration::CONTEXT, orchestration::migrate) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let order = OrderId::new();
        started(&db, &clock, order);
        let mut catalog = MockCatalogApi::new();
        catalog.expect_reserve().times(1).returning(move |o, _, _| Ok(reservation(o, ReservationState::Held)));
        catalog
            .expect_release()
            .with(eq(order))
            .times(1)
            .returning(move |o| Ok(reservation(o, ReservationState::Released)));
        catalog.expect_commit().never();
        let mut orders = MockOrdersApi::new();
        orders.expect_charge().times(1).returning(|_| Ok(ChargeOutcome::Declined("card_declined".into())));
        orders.expect_reject().with(eq(order), eq("payment_declined".to_owned())).times(1).returning(|_, _| Ok(()));
        let (state, log) = run(&db, clock, catalog, orders);
        assert_eq!(
            (state.as_str(), steps(&log)),
            ("failed", vec!["reserve", "charge", "release", "reject"]),
            "{}",
            db.label()
        );
    }
}

#[test]
fn transient_failures_retry_then_give_up_and_compensate() {
    for db in test_databases(orchestration::CONTEXT, orchestration::migrate) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let order = OrderId::new();
        started(&db, &clock, order);
        let mut catalog = MockCatalogApi::new();
        catalog.expect_reserve().times(1).returning(move |o, _, _| Ok(reservation(o, ReservationState::Held)));
        catalog.expect_release().times(1).returning(move |o| Ok(reservation(o, ReservationState::Released)));
        let mut orders = MockOrdersApi::new();
        orders.expect_charge().times(5).returning(|_| Err(OrdersApiError::Transient("gateway timeout".into())));
        orders.expect_refund().times(1).returning(|_, _, _| Ok(eur(0)));
        orders.expect_reject().with(eq(order), eq("payment_failed".to_owned())).times(1).returning(|_, _| Ok(()));
        let (state, log) = run(&db, clock, catalog, orders);
        assert_eq!(state, "failed", "{}", db.label());
        let retries = log.iter().filter(|(_, outcome)| outcome == "retry").count();
        assert_eq!(retries, 4);
        assert_eq!(log.last().map(|(step, _)| step.as_str()), Some("reject"));
    }
}

#[test]
fn an_expired_reservation_at_commit_refunds_and_rejects() {
    for db in test_databases(orchestration::CONTEXT, orchestration::migrate) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let order = OrderId::new();
        started(&db, &clock, order);
        let mut catalog = MockCatalogApi::new();
        catalog.expect_reserve().times(1).returning(move |o, _, _| Ok(reservation(o, ReservationState::Held)));
        catalog.expect_commit().times(1).returning(|o| Err(StockError::AlreadyReleased(o)));
        catalog.expect_release().times(1).returning(move |o| Ok(reservation(o, ReservationState::Released)));
        let mut orders = MockOrdersApi::new();
        orders.expect_charge().times(1).returning(|_| Ok(ChargeOutcome::Captured(eur(2000))));
        orders
            .expect_refund()
            .withf(move |o, amount, _| *o == order && amount.is_none())
            .times(1)
            .returning(|_, _, _| Ok(eur(2000)));
        orders.expect_reject().with(eq(order), eq("reservation_expired".to_owned())).times(1).returning(|_, _| Ok(()));
        let (state, log) = run(&db, clock, catalog, orders);
        assert_eq!(state, "failed");
        assert_eq!(steps(&log), vec!["reserve", "charge", "commit", "refund", "release", "reject"], "{}", db.label());
    }
}

/// A catalog that never answers.
struct Silent;

#[async_trait::async_trait]
impl catalog_api::CatalogApi for Silent {
    async fn product_snapshots(&self, _: Vec<ProductId>) -> Result<Vec<catalog_api::ProductSnapshot>, StockError> {
        Ok(vec![])
    }
    async fn reserve(&self, _: OrderId, _: Vec<StockLine>, _: std::time::Duration) -> Result<Reservation, StockError> {
        actix_web::rt::time::sleep(std::time::Duration::from_secs(3600)).await;
        Err(StockError::Unavailable("unreachable".into()))
    }
    async fn commit(&self, order: OrderId) -> Result<Reservation, StockError> {
        Err(StockError::NoReservation(order))
    }
    async fn release(&self, order: OrderId) -> Result<Reservation, StockError> {
        Err(StockError::NoReservation(order))
    }
    async fn restock(&self, _: Vec<StockLine>, _: String) -> Result<(), StockError> {
        Ok(())
    }
}

#[test]
fn a_step_that_never_answers_times_out_and_is_retried() {
    let db = TestDatabase::sqlite(orchestration::CONTEXT, orchestration::migrate);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let order = OrderId::new();
    started(&db, &clock, order);
    let runner = SagaRunner::new(
        db.db.clone(),
        clock.clone(),
        Arc::new(Silent),
        Arc::new(MockOrdersApi::new()),
        Arc::new(support_api::MockSupportApi::new()),
        Wake::new(),
        FaultInjection::default(),
    )
    .with_step_timeout(std::time::Duration::from_millis(50));
    actix_web::rt::System::new().block_on(async {
        runner.run_once().await.expect("pass");
    });
    let mut conn = db.db.conn().expect("conn");
    let sagas = list_sagas(&mut conn, None, None, 10).expect("sagas");
    assert_eq!((sagas[0].state.as_str(), sagas[0].step.as_str(), sagas[0].attempts), ("running", "reserve", 1));
    assert!(sagas[0].last_error.as_deref().unwrap_or("").contains("timed out"), "{:?}", sagas[0].last_error);
}

#[test]
fn a_cancellation_refunds_restocks_and_cancels() {
    for db in test_databases(orchestration::CONTEXT, orchestration::migrate) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let order = OrderId::new();
        {
            let mut conn = db.db.conn().expect("conn");
            let now = clock.now().naive_utc();
            assert!(orchestration::runner::start_cancellation(&mut conn, order, lines(), now).expect("start"));
            assert!(!orchestration::runner::start_cancellation(&mut conn, order, lines(), now).expect("again"));
        }
        let mut catalog = MockCatalogApi::new();
        catalog
            .expect_restock()
            .withf(move |lines, reason| lines.len() == 1 && reason == &format!("order {order} cancelled"))
            .times(1)
            .returning(|_, _| Ok(()));
        let mut orders = MockOrdersApi::new();
        orders
            .expect_refund()
            .withf(move |o, amount, _| *o == order && amount.is_none())
            .times(1)
            .returning(|_, _, _| Ok(eur(2000)));
        orders.expect_cancel().with(eq(order)).times(1).returning(|_| Ok(()));
        let (state, log) = run(&db, clock, catalog, orders);
        assert_eq!((state.as_str(), steps(&log)), ("completed", vec!["refund", "restock", "cancel"]), "{}", db.label());
    }
}

#[test]
fn a_return_refunds_exactly_its_lines_restocks_and_completes() {
    for db in test_databases(orchestration::CONTEXT, orchestration::migrate) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let order = OrderId::new();
        {
            let mut conn = db.db.conn().expect("conn");
            let now = clock.now().naive_utc();
            assert!(
                orchestration::runner::start_return(&mut conn, order, "T-1", lines(), eur(1800), now).expect("start")
            );
            assert!(
                !orchestration::runner::start_return(&mut conn, order, "T-1", lines(), eur(1800), now).expect("again")
            );
        }
        let mut catalog = MockCatalogApi::new();
        catalog.expect_restock().withf(|_, reason| reason == "return T-1").times(1).returning(|_, _| Ok(()));
        let mut orders = MockOrdersApi::new();
        orders
            .expect_refund()
            .withf(move |o, amount, key| *o == order && *amount == Some(eur(1800)) && key == "return T-1")
            .times(1)
            .returning(|_, _, _| Ok(eur(1800)));
        let mut support = support_api::MockSupportApi::new();
        support.expect_return_completed().withf(|t, m| t == "T-1" && *m == eur(1800)).times(1).returning(|_, _| Ok(()));
        let (state, log) = run_with(&db, clock, catalog, orders, support);
        assert_eq!(
            (state.as_str(), steps(&log)),
            ("completed", vec!["refund", "restock", "complete"]),
            "{}",
            db.label()
        );
    }
}

#[test]
fn a_return_whose_refund_keeps_failing_is_handed_back_to_an_agent() {
    let db = TestDatabase::sqlite(orchestration::CONTEXT, orchestration::migrate);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let order = OrderId::new();
    {
        let mut conn = db.db.conn().expect("conn");
        orchestration::runner::start_return(&mut conn, order, "T-2", lines(), eur(500), clock.now().naive_utc())
            .expect("start");
    }
    let mut orders = MockOrdersApi::new();
    orders.expect_refund().times(5).returning(|_, _, _| Err(OrdersApiError::Transient("gateway down".into())));
    let mut catalog = MockCatalogApi::new();
    catalog.expect_restock().never();
    let mut support = support_api::MockSupportApi::new();
    support.expect_return_failed().withf(|t, _| t == "T-2").times(1).returning(|_, _| Ok(()));
    let (state, log) = run_with(&db, clock, catalog, orders, support);
    assert_eq!(state, "failed");
    assert_eq!(log.last().map(|(s, _)| s.as_str()), Some("fail_return"));
}
