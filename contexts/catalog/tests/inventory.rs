//! Inventory and reservations: never oversold under concurrency, all lines
//! or none, idempotent per order, expiry, commit, release and restock.

mod support;

use catalog::service::CatalogError;
use catalog_api::{ReservationState, StockError, StockLine};
use kernel::OrderId;
use std::time::Duration;
use support::catalogs;

const TTL: Duration = Duration::from_secs(900);

fn line(product: &catalog::service::Product, quantity: i64) -> StockLine {
    StockLine { product_id: product.id, quantity }
}

#[test]
fn fifty_racers_for_the_last_ten_units_get_exactly_ten() {
    for c in catalogs() {
        let product = c.product("LAST-10", "Last Ten", "", 1000, 10, None);
        let results: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    let service = c.service.clone();
                    let id = product.id;
                    scope.spawn(move || {
                        service.reserve(OrderId::new(), &[StockLine { product_id: id, quantity: 1 }], TTL).is_ok()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert_eq!(results.iter().filter(|ok| **ok).count(), 10, "{}", c.label());
        let after = c.service.product(product.id).expect("product");
        assert_eq!((after.on_hand, after.reserved, after.available()), (10, 10, 0), "{}", c.label());
    }
}

#[test]
fn racing_mixed_quantities_never_oversell() {
    for c in catalogs() {
        let product = c.product("MIXED", "Mixed", "", 1000, 25, None);
        let granted: i64 = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..40)
                .map(|n| {
                    let service = c.service.clone();
                    let id = product.id;
                    scope.spawn(move || {
                        let quantity = (n % 3 + 1) as i64;
                        match service.reserve(OrderId::new(), &[StockLine { product_id: id, quantity }], TTL) {
                            Ok(_) => quantity,
                            Err(CatalogError::Stock(StockError::InsufficientStock { .. })) => 0,
                            Err(other) => panic!("unexpected: {other:?}"),
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).sum()
        });
        let after = c.service.product(product.id).expect("product");
        assert_eq!(after.reserved, granted, "{}", c.label());
        assert!(granted <= 25 && after.available() >= 0, "{}: granted {granted}", c.label());
        // Stock is conserved: what is free plus what was granted is what there was.
        assert_eq!(after.available() + granted, 25);
    }
}

#[test]
fn a_repeated_reserve_for_one_order_reserves_once_even_concurrently() {
    for c in catalogs() {
        let product = c.product("ONCE", "Once", "", 1000, 10, None);
        let order = OrderId::new();
        std::thread::scope(|scope| {
            for _ in 0..10 {
                let service = c.service.clone();
                let id = product.id;
                scope.spawn(move || {
                    let reservation = service.reserve(order, &[StockLine { product_id: id, quantity: 3 }], TTL);
                    // Every caller gets the one reservation.
                    assert_eq!(
                        reservation.expect("reservation").lines,
                        vec![StockLine { product_id: id, quantity: 3 }]
                    );
                });
            }
        });
        let after = c.service.product(product.id).expect("product");
        assert_eq!(after.reserved, 3, "{}", c.label());
        let again = c.service.reserve(order, &[line(&product, 3)], TTL).expect("idempotent");
        assert_eq!(again.lines, vec![line(&product, 3)]);
        assert_eq!(c.service.product(product.id).expect("product").reserved, 3);
    }
}

#[test]
fn all_lines_or_none_and_duplicates_are_summed() {
    for c in catalogs() {
        let plenty = c.product("PLENTY", "Plenty", "", 1000, 100, None);
        let scarce = c.product("SCARCE", "Scarce", "", 1000, 2, None);
        let error = c
            .service
            .reserve(OrderId::new(), &[line(&plenty, 5), line(&scarce, 1), line(&scarce, 2)], TTL)
            .expect_err("3 scarce requested");
        assert!(
            matches!(error, CatalogError::Stock(StockError::InsufficientStock { requested: 3, available: 2, .. })),
            "{error:?}"
        );
        assert_eq!(c.service.product(plenty.id).expect("p").reserved, 0, "{}: nothing held", c.label());
        let reservation = c
            .service
            .reserve(OrderId::new(), &[line(&scarce, 1), line(&plenty, 2), line(&scarce, 1)], TTL)
            .expect("fits");
        let mut lines = reservation.lines.clone();
        lines.sort_by_key(|l| l.product_id);
        let mut expected = vec![line(&plenty, 2), line(&scarce, 2)];
        expected.sort_by_key(|l| l.product_id);
        assert_eq!(lines, expected);
        assert!(matches!(
            c.service.reserve(OrderId::new(), &[line(&plenty, 0)], TTL),
            Err(CatalogError::Stock(StockError::InvalidQuantity))
        ));
        assert!(matches!(
            c.service.reserve(OrderId::new(), &[StockLine { product_id: kernel::ProductId::new(), quantity: 1 }], TTL),
            Err(CatalogError::Stock(StockError::UnknownProduct(_)))
        ));
        c.service.archive_product(plenty.id).expect("archive");
        assert!(matches!(
            c.service.reserve(OrderId::new(), &[line(&plenty, 1)], TTL),
            Err(CatalogError::Stock(StockError::NotForSale(_)))
        ));
    }
}

#[test]
fn commit_sells_release_returns_and_both_are_idempotent() {
    for c in catalogs() {
        let product = c.product("FLOW", "Flow", "", 1000, 10, None);
        let sold = OrderId::new();
        c.service.reserve(sold, &[line(&product, 4)], TTL).expect("reserve");
        assert_eq!(c.service.commit(sold).expect("commit").state, ReservationState::Committed);
        assert_eq!(c.service.commit(sold).expect("again").state, ReservationState::Committed);
        // Releasing a sold reservation changes nothing (restock instead).
        assert_eq!(c.service.release(sold).expect("release").state, ReservationState::Committed);
        let after = c.service.product(product.id).expect("product");
        assert_eq!((after.on_hand, after.reserved), (6, 0), "{}", c.label());

        let dropped = OrderId::new();
        c.service.reserve(dropped, &[line(&product, 5)], TTL).expect("reserve");
        c.service.release(dropped).expect("release");
        c.service.release(dropped).expect("release again");
        assert!(matches!(c.service.commit(dropped), Err(CatalogError::Stock(StockError::AlreadyReleased(_)))));
        let after = c.service.product(product.id).expect("product");
        assert_eq!((after.on_hand, after.reserved), (6, 0));
        assert!(matches!(c.service.commit(OrderId::new()), Err(CatalogError::Stock(StockError::NoReservation(_)))));

        c.service.restock(&[line(&product, 2), line(&product, 1)], "return RMA-1").expect("restock");
        assert_eq!(c.service.product(product.id).expect("product").on_hand, 9);
        let trail = c.service.adjustments(product.id).expect("trail");
        assert_eq!(trail[0].delta, 3);
        assert_eq!(trail[0].reason, "return RMA-1");
    }
}

#[test]
fn expired_reservations_are_released_by_the_sweeper() {
    for c in catalogs() {
        let product = c.product("EXPIRE", "Expire", "", 1000, 5, None);
        let stale = OrderId::new();
        c.service.reserve(stale, &[line(&product, 3)], Duration::from_secs(60)).expect("reserve");
        let fresh = OrderId::new();
        c.service.reserve(fresh, &[line(&product, 1)], Duration::from_secs(600)).expect("reserve");
        assert_eq!(c.service.sweep_expired().expect("sweep"), 0);
        c.clock.advance(chrono::Duration::seconds(61));
        assert_eq!(c.service.sweep_expired().expect("sweep"), 1, "{}", c.label());
        let after = c.service.product(product.id).expect("product");
        assert_eq!((after.on_hand, after.reserved), (5, 1));
        assert_eq!(c.service.release(stale).expect("state").state, ReservationState::Released);
        assert_eq!(c.service.sweep_expired().expect("sweep"), 0);
    }
}

#[test]
fn manual_adjustments_cannot_go_below_what_is_reserved() {
    for c in catalogs() {
        let product = c.product("ADJ", "Adjust", "", 1000, 5, None);
        c.service.reserve(OrderId::new(), &[line(&product, 4)], TTL).expect("reserve");
        let refused = c.service.adjust_stock(product.id, -2, "shrinkage".into()).expect_err("only 1 free");
        assert!(matches!(refused, CatalogError::Conflict { code: "stock_below_reserved", .. }), "{refused:?}");
        let after = c.service.adjust_stock(product.id, -1, "shrinkage".into()).expect("1 free");
        assert_eq!((after.on_hand, after.reserved), (4, 4));
        let trail = c.service.adjustments(product.id).expect("trail");
        assert_eq!(trail.iter().map(|a| a.delta).collect::<Vec<_>>(), vec![-1, 5], "{}", c.label());
        assert_eq!(trail[0].on_hand_after, 4);
    }
}

#[test]
fn every_change_publishes_its_events_through_the_outbox() {
    use kernel::events::admin::recorded_events;
    for c in catalogs() {
        let product = c.product("EVT-1", "Evented", "", 1000, 0, None);
        c.service
            .update_product(
                product.id,
                catalog::service::ProductChanges { price: Some(support::eur(900)), ..Default::default() },
            )
            .expect("price");
        c.service.adjust_stock(product.id, 6, "delivery".into()).expect("stock");
        let order = OrderId::new();
        c.service.reserve(order, &[line(&product, 2)], TTL).expect("reserve");
        c.service.release(order).expect("release");
        // A failed reservation publishes nothing.
        assert!(c.service.reserve(OrderId::new(), &[line(&product, 100)], TTL).is_err());
        let mut conn = c.db.db.conn().expect("conn");
        let names: Vec<String> =
            recorded_events(&mut conn).expect("outbox").into_iter().map(|(_, name)| name).collect();
        assert_eq!(
            names,
            vec![
                "catalog.ProductCreated.v1",
                "catalog.ProductUpdated.v1",
                "catalog.PriceChanged.v1",
                "catalog.StockChanged.v1",
                "catalog.StockChanged.v1",
                "catalog.StockReserved.v1",
                "catalog.StockChanged.v1",
                "catalog.ReservationReleased.v1",
            ],
            "{}",
            c.label()
        );
    }
}

#[test]
fn a_restock_for_the_same_reason_is_applied_once() {
    for c in catalogs() {
        let product = c.product("RESTOCK", "Restock", "", 1000, 1, None);
        let reason = format!("order {} cancelled", OrderId::new());
        c.service.restock(&[line(&product, 2)], &reason).expect("restock");
        c.service.restock(&[line(&product, 2)], &reason).expect("again, after a crash");
        assert_eq!(c.service.product(product.id).expect("product").on_hand, 3, "{}", c.label());
        c.service.restock(&[line(&product, 1)], "another return").expect("restock");
        assert_eq!(c.service.product(product.id).expect("product").on_hand, 4);
    }
}
