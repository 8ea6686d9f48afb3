//! The in-process `CatalogApi`, as the orders and orchestration contexts use it.

mod support;

use catalog::InProcessCatalogApi;
use catalog_api::{CatalogApi, ReservationState, StockError, StockLine};
use kernel::{OrderId, ProductId};
use std::sync::Arc;
use std::time::Duration;
use support::catalogs;

#[test]
fn snapshots_and_the_reservation_lifecycle_through_the_trait() {
    for c in catalogs() {
        let product = c.product("API-1", "Trait Lamp", "", 2500, 5, None);
        let archived = c.product("API-2", "Old Lamp", "", 900, 1, None);
        c.service.archive_product(archived.id).expect("archive");
        let api: Arc<dyn CatalogApi> = Arc::new(InProcessCatalogApi::new(c.service.clone()));
        actix_web::rt::System::new().block_on(async {
            let snapshots =
                api.product_snapshots(vec![archived.id, ProductId::new(), product.id]).await.expect("snapshots");
            assert_eq!(snapshots.len(), 2, "unknown ids are left out");
            assert_eq!(snapshots[0].id, archived.id, "in the order asked");
            assert!(!snapshots[0].active);
            assert_eq!(
                (snapshots[1].name.as_str(), snapshots[1].price.amount, snapshots[1].available),
                ("Trait Lamp", 2500, 5)
            );

            let order = OrderId::new();
            let lines = vec![StockLine { product_id: product.id, quantity: 2 }];
            let held = api.reserve(order, lines.clone(), Duration::from_secs(60)).await.expect("reserve");
            assert_eq!(held.state, ReservationState::Held);
            assert_eq!(api.commit(order).await.expect("commit").state, ReservationState::Committed);
            let too_many = api
                .reserve(
                    OrderId::new(),
                    vec![StockLine { product_id: product.id, quantity: 4 }],
                    Duration::from_secs(60),
                )
                .await;
            assert_eq!(
                too_many,
                Err(StockError::InsufficientStock { product_id: product.id, requested: 4, available: 3 })
            );
            api.restock(lines, "return".into()).await.expect("restock");
            assert_eq!(
                api.product_snapshots(vec![product.id]).await.expect("snapshot")[0].available,
                5,
                "{}",
                c.label()
            );
            let unknown = OrderId::new();
            assert_eq!(api.release(unknown).await.map(|_| ()), Err(StockError::NoReservation(unknown)));
        });
    }
}
