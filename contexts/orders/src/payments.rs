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
//! Payments go in two steps, as with card providers: `authorize` holds the
//! amount on the card, `capture` takes it. Like a real provider the sandbox
//! is idempotent by key: authorizing the same order twice returns the first
//! authorization, capturing one authorization twice takes the money once.

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

/// A successful authorization: the provider's reference, needed to capture
/// and refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayCharge {
    pub reference: String,
}

/// Takes and returns money. Blocking: call it from blocking code.
#[cfg_attr(test, mockall::automock)]
pub trait PaymentGateway: Send + Sync {
    /// Holds `amount` on the card `token`, idempotent per `order_id`.
    fn authorize(&self, order_id: OrderId, amount: Money, token: &str) -> Result<GatewayCharge, GatewayError>;

    /// Takes the authorized amount, idempotent per reference.
    fn capture(&self, reference: &str, amount: Money) -> Result<(), GatewayError>;

    fn refund(&self, reference: &str, amount: Money) -> Result<(), GatewayError>;
}

/// The sandbox: no money moves; outcomes follow the token table above.
#[derive(Debug, Default)]
pub struct SandboxGateway {
    slow: Duration,
    charges: Mutex<BTreeMap<OrderId, GatewayCharge>>,
    captured_references: Mutex<std::collections::BTreeSet<String>>,
    /// Every capture that moved money, for tests that count them.
    captured: Mutex<Vec<(String, Money)>>,
}

impl SandboxGateway {
    pub fn new(slow: Duration) -> Self {
        Self { slow, ..Self::default() }
    }

    /// Captures that moved money, in order: (reference, amount).
    pub fn captured(&self) -> Vec<(String, Money)> {
        self.captured.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl PaymentGateway for SandboxGateway {
    fn authorize(&self, order_id: OrderId, _amount: Money, token: &str) -> Result<GatewayCharge, GatewayError> {
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
        Ok(charges.entry(order_id).or_insert(charge).clone())
    }

    fn capture(&self, reference: &str, amount: Money) -> Result<(), GatewayError> {
        if self.captured_references.lock().unwrap_or_else(|p| p.into_inner()).insert(reference.to_owned()) {
            self.captured.lock().unwrap_or_else(|p| p.into_inner()).push((reference.to_owned(), amount));
        }
        Ok(())
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
        let first = sandbox.authorize(order, eur(100), "tok_visa").expect("authorized");
        assert_eq!(sandbox.authorize(order, eur(100), "tok_visa"), Ok(first.clone()));
        sandbox.capture(&first.reference, eur(100)).expect("captured");
        sandbox.capture(&first.reference, eur(100)).expect("captured again");
        assert_eq!(sandbox.captured().len(), 1, "the repeat moved no money");
        assert_eq!(
            sandbox.authorize(OrderId::new(), eur(1), "tok_chargeDeclined"),
            Err(GatewayError::Declined("card_declined".into()))
        );
        assert!(matches!(
            sandbox.authorize(OrderId::new(), eur(1), "tok_processingError"),
            Err(GatewayError::Transient(_))
        ));
        assert!(sandbox.authorize(OrderId::new(), eur(1), "tok_slow").is_ok());
        assert!(matches!(
            sandbox.authorize(OrderId::new(), eur(1), "4242424242424242"),
            Err(GatewayError::Declined(_))
        ));
    }
}
