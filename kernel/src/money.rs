//! Money: integer minor units plus an ISO 4217 currency. Never floating point.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 alphabetic currency code: three upper-case ASCII letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Currencies the shop accepts. A short, deliberate list: adding one is a
/// business decision (payment provider, tax), not a typo away.
pub const SUPPORTED_CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "CHF", "SEK", "DKK", "PLN", "JPY"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a supported ISO 4217 currency")]
    UnknownCurrency(String),
    #[error("cannot combine {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount overflow")]
    Overflow,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        if SUPPORTED_CURRENCIES.contains(&code) {
            let bytes = code.as_bytes();
            Ok(Self([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err(MoneyError::UnknownCurrency(code.to_owned()))
        }
    }

    pub fn code(&self) -> &str {
        // Constructed only from ASCII codes in SUPPORTED_CURRENCIES.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Number of minor-unit digits (JPY has none).
    pub fn exponent(&self) -> u32 {
        match self.code() {
            "JPY" => 0,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.code().to_owned()
    }
}

/// An amount in minor units (cents) of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units: 1999 EUR is 19.99 €.
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        self.amount.checked_mul(factor).map(|amount| Money::new(amount, self.currency)).ok_or(MoneyError::Overflow)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        if exponent == 0 {
            return write!(f, "{} {}", self.amount, self.currency);
        }
        let scale = 10i64.pow(exponent);
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        let scale = scale.unsigned_abs();
        write!(f, "{sign}{}.{:0width$} {}", abs / scale, abs % scale, self.currency, width = exponent as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").expect("EUR is supported")
    }

    #[test]
    fn rejects_unknown_and_lower_case_codes() {
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XXX").is_err());
        assert!(Currency::parse("EURO").is_err());
    }

    #[test]
    fn adds_only_same_currency() {
        let usd = Currency::parse("USD").expect("USD is supported");
        let sum = Money::new(150, eur()).checked_add(Money::new(250, eur()));
        assert_eq!(sum, Ok(Money::new(400, eur())));
        assert!(matches!(
            Money::new(1, eur()).checked_add(Money::new(1, usd)),
            Err(MoneyError::CurrencyMismatch(_, _))
        ));
        assert_eq!(Money::new(i64::MAX, eur()).checked_add(Money::new(1, eur())), Err(MoneyError::Overflow));
    }

    #[test]
    fn displays_minor_units() {
        assert_eq!(Money::new(1999, eur()).to_string(), "19.99 EUR");
        assert_eq!(Money::new(-5, eur()).to_string(), "-0.05 EUR");
        let jpy = Currency::parse("JPY").expect("JPY is supported");
        assert_eq!(Money::new(500, jpy).to_string(), "500 JPY");
    }

    #[test]
    fn serialises_as_code_and_minor_units() {
        let json = serde_json::to_value(Money::new(1999, eur())).expect("serialises");
        assert_eq!(json, serde_json::json!({"amount": 1999, "currency": "EUR"}));
        let bad: Result<Money, _> = serde_json::from_value(serde_json::json!({"amount": 1, "currency": "ABC"}));
        assert!(bad.is_err());
    }
}
