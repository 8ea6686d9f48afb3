//! The in-process implementation of the published `CatalogApi`.

use crate::service::{CatalogError, CatalogService};
use catalog_api::{CatalogApi, ProductSnapshot, Reservation, StockError, StockLine};
use kernel::{OrderId, ProductId};
use std::sync::Arc;

#[derive(Clone)]
pub struct InProcessCatalogApi {
    service: Arc<CatalogService>,
}

impl InProcessCatalogApi {
    pub fn new(service: Arc<CatalogService>) -> Self {
        Self { service }
    }
}

fn stock_error(error: CatalogError) -> StockError {
    match error {
        CatalogError::Stock(error) => error,
        other => StockError::Unavailable(other.to_string()),
    }
}

async fn run<T, F>(work: F) -> Result<T, StockError>
where
    F: FnOnce() -> Result<T, CatalogError> + Send + 'static,
    T: Send + 'static,
{
    actix_web::web::block(work).await.map_err(|error| StockError::Unavailable(error.to_string()))?.map_err(stock_error)
}

#[async_trait::async_trait]
impl CatalogApi for InProcessCatalogApi {
    async fn product_snapshots(&self, ids: Vec<ProductId>) -> Result<Vec<ProductSnapshot>, StockError> {
        let service = self.service.clone();
        run(move || service.snapshots(&ids)).await
    }

    async fn reserve(
        &self,
        order_id: OrderId,
        lines: Vec<StockLine>,
        ttl: std::time::Duration,
    ) -> Result<Reservation, StockError> {
        let service = self.service.clone();
        run(move || service.reserve(order_id, &lines, ttl)).await
    }

    async fn commit(&self, order_id: OrderId) -> Result<Reservation, StockError> {
        let service = self.service.clone();
        run(move || service.commit(order_id)).await
    }

    async fn release(&self, order_id: OrderId) -> Result<Reservation, StockError> {
        let service = self.service.clone();
        run(move || service.release(order_id)).await
    }

    async fn restock(&self, lines: Vec<StockLine>, reason: String) -> Result<(), StockError> {
        let service = self.service.clone();
        run(move || service.restock(&lines, &reason)).await
    }
}
