//! The checkout saga: reserve stock → charge → commit the reservation →
//! confirm the order. A step that fails for good runs the compensations of
//! the steps before it (refund, release) and rejects the order with a
//! reason. Transient failures retry with backoff; after `MAX_ATTEMPTS` the
//! step counts as failed.
//!
//! Each step's call is idempotent per order (reserve, charge, commit,
//! release, refund, confirm, reject all are), so the runner may repeat a
//! step whose outcome it did not get to record — which is exactly what
//! happens when the process is killed mid-step.

use catalog_api::{CatalogApi, StockError, StockLine};
use kernel::OrderId;
use orders_api::{ChargeOutcome, OrdersApi, OrdersApiError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const KIND: &str = "checkout";

/// The cancellation saga (same machinery): refund → restock → cancel.
pub const CANCELLATION: &str = "cancellation";

/// The return saga: partial refund → restock → mark the return completed.
pub const RETURN: &str = "return";

/// How long stock stays reserved for a checkout that has not finished.
pub const RESERVATION_TTL: Duration = Duration::from_secs(15 * 60);

/// Attempts of one step before a transient failure counts as final.
pub const MAX_ATTEMPTS: i32 = 5;

/// What the saga carries between steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutData {
    pub lines: Vec<StockLine>,
    /// Set once a step has failed: why the order will be rejected.
    pub failure: Option<String>,
    /// Returns: the ticket, and the amount to refund (the returned lines' prices).
    #[serde(default)]
    pub ticket_id: Option<String>,
    #[serde(default)]
    pub amount: Option<kernel::Money>,
}

/// The steps, forward and compensating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Reserve,
    Charge,
    Commit,
    Confirm,
    Refund,
    Release,
    Reject,
    Restock,
    Cancel,
    Complete,
    FailReturn,
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::Reserve => "reserve",
            Step::Charge => "charge",
            Step::Commit => "commit",
            Step::Confirm => "confirm",
            Step::Refund => "refund",
            Step::Release => "release",
            Step::Reject => "reject",
            Step::Restock => "restock",
            Step::Cancel => "cancel",
            Step::Complete => "complete",
            Step::FailReturn => "fail_return",
        }
    }

    pub fn parse(name: &str) -> Option<Step> {
        [
            Step::Reserve,
            Step::Charge,
            Step::Commit,
            Step::Confirm,
            Step::Refund,
            Step::Release,
            Step::Reject,
            Step::Restock,
            Step::Cancel,
            Step::Complete,
            Step::FailReturn,
        ]
        .into_iter()
        .find(|step| step.name() == name)
    }
}

/// Where a step leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Go on with this step (forward or compensating).
    Next(Step),
    /// Start compensating at this step, rejecting for this reason.
    Compensate(Step, String),
    /// The order is confirmed.
    Completed,
    /// Compensations are done and the order rejected.
    Failed,
    /// Try the same step again later.
    Retry(String),
}

fn stock_failure(error: StockError) -> Transition {
    match error {
        StockError::Unavailable(cause) => Transition::Retry(cause),
        StockError::InsufficientStock { .. } | StockError::UnknownProduct(_) | StockError::NotForSale(_) => {
            Transition::Compensate(Step::Reject, "out_of_stock".into())
        }
        other => Transition::Compensate(Step::Reject, format!("stock_error: {other}")),
    }
}

fn orders_failure(error: OrdersApiError) -> Transition {
    match error {
        OrdersApiError::Transient(cause) => Transition::Retry(cause),
        other => Transition::Retry(other.to_string()),
    }
}

/// Runs one step of a cancellation saga: the money back, the units back,
/// then the order cancelled. Every step retries until it succeeds.
pub async fn run_cancellation_step(
    step: Step,
    order_id: OrderId,
    data: &CheckoutData,
    catalog: &dyn CatalogApi,
    orders: &dyn OrdersApi,
) -> Transition {
    match step {
        Step::Refund => match orders.refund(order_id, None, "cancellation".into()).await {
            Ok(_) => Transition::Next(Step::Restock),
            Err(error) => orders_failure(error),
        },
        Step::Restock => match catalog.restock(data.lines.clone(), format!("order {order_id} cancelled")).await {
            Ok(()) => Transition::Next(Step::Cancel),
            Err(error) => Transition::Retry(error.to_string()),
        },
        Step::Cancel => match orders.cancel(order_id).await {
            Ok(()) => Transition::Completed,
            Err(error) => orders_failure(error),
        },
        other => Transition::Retry(format!("{} is not a cancellation step", other.name())),
    }
}

/// Runs one step of a return saga.
pub async fn run_return_step(
    step: Step,
    order_id: OrderId,
    data: &CheckoutData,
    catalog: &dyn CatalogApi,
    orders: &dyn OrdersApi,
    support: &dyn support_api::SupportApi,
) -> Transition {
    let ticket = data.ticket_id.clone().unwrap_or_default();
    match step {
        Step::Refund => match orders.refund(order_id, data.amount, format!("return {ticket}")).await {
            Ok(_) => Transition::Next(Step::Restock),
            Err(error) => orders_failure(error),
        },
        Step::Restock => match catalog.restock(data.lines.clone(), format!("return {ticket}")).await {
            Ok(()) => Transition::Next(Step::Complete),
            Err(error) => Transition::Retry(error.to_string()),
        },
        Step::Complete => {
            let Some(refunded) = data.amount else {
                return Transition::Retry("the return saga carries no amount".into());
            };
            match support.return_completed(ticket, refunded).await {
                Ok(()) => Transition::Completed,
                Err(error) => Transition::Retry(error.to_string()),
            }
        }
        Step::FailReturn => {
            match support.return_failed(ticket, data.failure.clone().unwrap_or_else(|| "refund failed".into())).await {
                Ok(()) => Transition::Failed,
                Err(error) => Transition::Retry(error.to_string()),
            }
        }
        other => Transition::Retry(format!("{} is not a return step", other.name())),
    }
}

/// Runs one step and says where the saga goes next.
pub async fn run_step(
    step: Step,
    order_id: OrderId,
    data: &CheckoutData,
    catalog: &dyn CatalogApi,
    orders: &dyn OrdersApi,
) -> Transition {
    match step {
        Step::Reserve => match catalog.reserve(order_id, data.lines.clone(), RESERVATION_TTL).await {
            Ok(_) => Transition::Next(Step::Charge),
            Err(error) => stock_failure(error),
        },
        Step::Charge => match orders.charge(order_id).await {
            Ok(ChargeOutcome::Captured(_)) => Transition::Next(Step::Commit),
            Ok(ChargeOutcome::Declined(_)) => Transition::Compensate(Step::Release, "payment_declined".into()),
            Err(error) => orders_failure(error),
        },
        Step::Commit => match catalog.commit(order_id).await {
            Ok(_) => Transition::Next(Step::Confirm),
            // The reservation expired (the sweeper released it) before commit.
            Err(StockError::AlreadyReleased(_)) | Err(StockError::NoReservation(_)) => {
                Transition::Compensate(Step::Refund, "reservation_expired".into())
            }
            Err(error) => stock_failure(error),
        },
        Step::Confirm => match orders.confirm(order_id).await {
            Ok(()) => Transition::Completed,
            Err(error) => orders_failure(error),
        },
        Step::Refund => match orders.refund(order_id, None, "checkout".into()).await {
            Ok(_) => Transition::Next(Step::Release),
            Err(error) => orders_failure(error),
        },
        Step::Release => match catalog.release(order_id).await {
            Ok(_) | Err(StockError::NoReservation(_)) => Transition::Next(Step::Reject),
            Err(StockError::Unavailable(cause)) => Transition::Retry(cause),
            Err(_) => Transition::Next(Step::Reject),
        },
        Step::Reject => {
            let reason = data.failure.clone().unwrap_or_else(|| "rejected".into());
            match orders.reject(order_id, reason).await {
                Ok(()) | Err(OrdersApiError::IllegalTransition(..)) => Transition::Failed,
                Err(error) => orders_failure(error),
            }
        }
        Step::Restock | Step::Cancel | Step::Complete | Step::FailReturn => {
            Transition::Retry(format!("{} is not a checkout step", step.name()))
        }
    }
}

/// What a step that keeps failing transiently turns into.
pub fn give_up(step: Step) -> Transition {
    match step {
        Step::Reserve => Transition::Compensate(Step::Reject, "stock_unavailable".into()),
        // The charge may or may not have gone through: refund whatever was captured.
        Step::Charge => Transition::Compensate(Step::Refund, "payment_failed".into()),
        Step::Commit => Transition::Compensate(Step::Refund, "stock_unavailable".into()),
        // Forward progress past the charge is kept: confirmation is retried, not undone.
        Step::Confirm
        | Step::Refund
        | Step::Release
        | Step::Reject
        | Step::Restock
        | Step::Cancel
        | Step::Complete
        | Step::FailReturn => Transition::Retry("still failing".into()),
    }
}
