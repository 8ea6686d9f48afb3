//! The in-process implementation of the published `OrdersApi`.

use crate::orders::OrderError;
use crate::orders::OrderService;
use kernel::{Money, OrderId};
use orders_api::{ChargeOutcome, OrderSummary, OrdersApi, OrdersApiError, SummaryLine};
use std::sync::Arc;

#[derive(Clone)]
pub struct InProcessOrdersApi {
    service: Arc<OrderService>,
}

impl InProcessOrdersApi {
    pub fn new(service: Arc<OrderService>) -> Self {
        Self { service }
    }
}

async fn run<T, F>(work: F) -> Result<T, OrdersApiError>
where
    F: FnOnce() -> Result<T, OrdersApiError> + Send + 'static,
    T: Send + 'static,
{
    actix_web::web::block(work).await.map_err(|error| OrdersApiError::Transient(error.to_string()))?
}

#[async_trait::async_trait]
impl OrdersApi for InProcessOrdersApi {
    async fn charge(&self, order_id: OrderId) -> Result<ChargeOutcome, OrdersApiError> {
        let service = self.service.clone();
        run(move || service.charge(order_id)).await
    }

    async fn refund(&self, order_id: OrderId, amount: Option<Money>, key: String) -> Result<Money, OrdersApiError> {
        let service = self.service.clone();
        run(move || service.refund_once(order_id, amount, &key)).await
    }

    async fn confirm(&self, order_id: OrderId) -> Result<(), OrdersApiError> {
        let service = self.service.clone();
        run(move || service.confirm(order_id)).await
    }

    async fn reject(&self, order_id: OrderId, reason: String) -> Result<(), OrdersApiError> {
        let service = self.service.clone();
        run(move || service.reject(order_id, &reason)).await
    }

    async fn order_summary(&self, order_id: OrderId) -> Result<Option<OrderSummary>, OrdersApiError> {
        let service = self.service.clone();
        run(move || match service.order(order_id) {
            Ok(order) => Ok(Some(OrderSummary {
                order_id: order.id,
                user_id: order.user_id,
                status: order.status,
                lines: order
                    .lines
                    .into_iter()
                    .map(|l| SummaryLine {
                        product_id: l.product_id,
                        name: l.name,
                        quantity: l.quantity,
                        unit_price: l.unit_price,
                    })
                    .collect(),
                total: order.total,
                captured: order.payment.captured,
                refunded: order.payment.refunded,
                delivered_at: order.timeline.iter().find(|t| t.status == "delivered").map(|t| t.at),
            })),
            Err(OrderError::NotFound) => Ok(None),
            Err(other) => Err(OrdersApiError::Transient(other.to_string())),
        })
        .await
    }

    async fn cancel(&self, order_id: OrderId) -> Result<(), OrdersApiError> {
        let service = self.service.clone();
        run(move || service.cancel(order_id)).await
    }
}
