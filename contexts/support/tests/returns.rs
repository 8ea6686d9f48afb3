//! Return validation and the return's states on real databases (SQLite
//! always, PostgreSQL with TEST_DATABASE_URL).

use chrono::{Duration, Utc};
use kernel::clock::ManualClock;
use kernel::events::Outbox;
use kernel::testing::test_databases;
use kernel::{Currency, Money, OrderId, ProductId, UserId};
use orders_api::{OrderSummary, SummaryLine};
use std::sync::Arc;
use support::returns::{RequestedLine, ReturnProblem};
use support::service::SupportService;

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::parse("EUR").expect("EUR"))
}

fn order(user: UserId, product: ProductId, delivered_days_ago: Option<i64>) -> OrderSummary {
    OrderSummary {
        order_id: OrderId::new(),
        user_id: user,
        status: if delivered_days_ago.is_some() { "delivered" } else { "confirmed" }.into(),
        lines: vec![SummaryLine { product_id: product, name: "Lamp".into(), quantity: 3, unit_price: eur(900) }],
        total: eur(2700),
        captured: eur(2700),
        refunded: eur(0),
        delivered_at: delivered_days_ago.map(|days| Utc::now() - Duration::days(days)),
    }
}

fn line(product: ProductId, quantity: i64) -> RequestedLine {
    RequestedLine { product_id: product, quantity, reason: "too many".into() }
}

#[test]
fn returns_are_checked_against_the_order_and_move_through_their_states() {
    for db in test_databases(support::CONTEXT, support::migrate) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let service = SupportService::new(db.db.clone(), clock.clone(), Outbox::new(support::CONTEXT, clock));
        let (user, lamp) = (UserId::new(), ProductId::new());
        let window = Duration::days(30);
        let ask = |order: &OrderSummary, lines: Vec<RequestedLine>| {
            service.request_return(user, order, "Back".into(), "Some back".into(), lines, window).expect("answer")
        };
        assert_eq!(ask(&order(user, lamp, None), vec![line(lamp, 1)]).err(), Some(ReturnProblem::NotDelivered));
        assert_eq!(ask(&order(user, lamp, Some(31)), vec![line(lamp, 1)]).err(), Some(ReturnProblem::WindowClosed));
        let delivered = order(user, lamp, Some(2));
        assert_eq!(ask(&delivered, vec![line(ProductId::new(), 1)]).err(), Some(ReturnProblem::NotInOrder(0)));
        assert_eq!(ask(&delivered, vec![line(lamp, 4)]).err(), Some(ReturnProblem::TooMany(0)));
        let first = ask(&delivered, vec![line(lamp, 2)]).expect("requested");
        assert_eq!(first.row.return_status.as_deref(), Some("requested"));
        assert_eq!(ask(&delivered, vec![line(lamp, 2)]).err(), Some(ReturnProblem::TooMany(0)), "{}", db.label());

        let agent = UserId::new();
        let approved = service.approve_return(&first.row.id, agent).expect("approve");
        assert_eq!(approved.row.return_status.as_deref(), Some("approved"));
        service.approve_return(&first.row.id, agent).expect("approving again does nothing");
        assert!(service.reject_return(&first.row.id, agent, "late").is_err());

        let second = ask(&delivered, vec![line(lamp, 1)]).expect("the last lamp");
        service.reject_return(&second.row.id, agent, "used").expect("reject");
        // A rejected return frees its quantity again.
        assert!(ask(&delivered, vec![line(lamp, 1)]).is_ok(), "{}", db.label());
    }
}
