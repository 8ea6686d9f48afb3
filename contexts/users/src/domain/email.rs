use std::fmt;

/// A normalised email address: trimmed, lower-cased and of plausible shape.
///
/// Lower-casing the whole address is a deliberate simplification: real mail
/// systems treat local parts case-insensitively, and one account per address
/// regardless of case is what customers expect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is required")]
    Empty,
    #[error("email is too long (at most 254 characters)")]
    TooLong,
    #[error("not a valid email address")]
    Invalid,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(EmailError::Empty);
        }
        if normalised.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let Some((local, domain)) = normalised.rsplit_once('@') else {
            return Err(EmailError::Invalid);
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok { Ok(Self(normalised)) } else { Err(EmailError::Invalid) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form stored for an erased account: unique, not deliverable
    /// (`.invalid` is reserved by RFC 2606), and free of personal data.
    pub fn erased_placeholder(account_id: &kernel::UserId) -> Self {
        Self(format!("erased-{}@erased.invalid", account_id.as_uuid().simple()))
    }

    /// Trusted conversion for values read back from our own table.
    pub(crate) fn from_trusted(stored: String) -> Self {
        Self(stored)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lower_cases() {
        assert_eq!(Email::parse("  Ana.Garcia@Example.COM ").map(|e| e.0), Ok("ana.garcia@example.com".into()));
    }

    #[test]
    fn accepts_plus_addressing_and_unicode_domains() {
        assert!(Email::parse("ana+shop@example.com").is_ok());
        assert!(Email::parse("josé@correo.españa.es").is_ok());
    }

    #[test]
    fn rejects_implausible_addresses() {
        for bad in [
            "",
            "   ",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "a b@example.com",
            "ana@exa mple.com",
            ".ana@example.com",
            "ana..g@example.com",
            "ana@-example.com",
            "ana@example..com",
            "ana@example.com\u{0}",
            "'; DROP TABLE accounts; --@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }
}
