//! The payment gateway port and its sandbox, documented like a provider's
//! test mode. Card tokens decide the outcome:
//!
//! | token | outcome |
//! |---|---|
//! | `tok_visa` (or any other `tok_…`) | captured |
//! | `tok_chargeDeclined` | declined (`card_declined`), final |
//! | `tok_processingError` | fails transiently; the saga retries, then gives up |
//! | `tok_slow` | captured after the configured delay |
//!
//! Like a real provider it is idempotent by key: charging the same order
//! twice returns the first charge.

use kernel::{Money, OrderId};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("declined: {0}")]
    Declined(String),
    #[error("temporary failure: {0}")]
    Transient(String),
}

/// A successful charge: the provider's reference, needed to refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayCharge {
    pub reference: String,
}

/// Takes and returns money. Blocking: call it from blocking code.
#[cfg_attr(test, mockall::automock)]
pub trait PaymentGateway: Send + Sync {
    /// Charges `amount` with the card `token`, idempotent per `order_id`.
    fn charge(&self, order_id: OrderId, amount: Money, token: &str) -> Result<GatewayCharge, GatewayError>;

    fn refund(&self, reference: &str, amount: Money) -> Result<(), GatewayError>;
}

/// The sandbox: no money moves; outcomes follow the token table above.
#[derive(Debug, Default)]
pub struct SandboxGateway {
    slow: Duration,
    charges: Mutex<BTreeMap<OrderId, GatewayCharge>>,
    /// Every charge that moved money, for tests that count them.
    captured: Mutex<Vec<(OrderId, Money)>>,
}

impl SandboxGateway {
    pub fn new(slow: Duration) -> Self {
        Self { slow, ..Self::default() }
    }

    /// Charges that moved money, in order.
    pub fn captured(&self) -> Vec<(OrderId, Money)> {
        self.captured.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl PaymentGateway for SandboxGateway {
    fn charge(&self, order_id: OrderId, amount: Money, token: &str) -> Result<GatewayCharge, GatewayError> {
        if let Some(existing) = self.charges.lock().unwrap_or_else(|p| p.into_inner()).get(&order_id) {
            return Ok(existing.clone());
        }
        match token {
            "tok_chargeDeclined" => return Err(GatewayError::Declined("card_declined".into())),
            "tok_processingError" => return Err(GatewayError::Transient("processing_error".into())),
            "tok_slow" => std::thread::sleep(self.slow),
            token if !token.starts_with("tok_") => return Err(GatewayError::Declined("invalid_token".into())),
            _ => {}
        }
        let charge = GatewayCharge { reference: format!("ch_{}", uuid::Uuid::now_v7().simple()) };
        let mut charges = self.charges.lock().unwrap_or_else(|p| p.into_inner());
        let charge = charges.entry(order_id).or_insert(charge).clone();
        self.captured.lock().unwrap_or_else(|p| p.into_inner()).push((order_id, amount));
        Ok(charge)
    }

    fn refund(&self, _reference: &str, _amount: Money) -> Result<(), GatewayError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::Currency;

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::parse("EUR").expect("EUR"))
    }

    #[test]
    fn tokens_decide_and_charges_are_idempotent_per_order() {
        let sandbox = SandboxGateway::new(Duration::from_millis(1));
        let order = OrderId::new();
        let first = sandbox.charge(order, eur(100), "tok_visa").expect("captured");
        assert_eq!(sandbox.charge(order, eur(100), "tok_visa"), Ok(first));
        assert_eq!(sandbox.captured().len(), 1, "the repeat moved no money");
        assert_eq!(
            sandbox.charge(OrderId::new(), eur(1), "tok_chargeDeclined"),
            Err(GatewayError::Declined("card_declined".into()))
        );
        assert!(matches!(
            sandbox.charge(OrderId::new(), eur(1), "tok_processingError"),
            Err(GatewayError::Transient(_))
        ));
        assert!(sandbox.charge(OrderId::new(), eur(1), "tok_slow").is_ok());
        assert!(matches!(sandbox.charge(OrderId::new(), eur(1), "4242424242424242"), Err(GatewayError::Declined(_))));
    }
}
