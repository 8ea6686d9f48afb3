use std::collections::HashSet;
use std::sync::OnceLock;

/// A password a customer chose, checked against the policy. Never logged,
/// never stored: only its argon2id hash is.
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

pub const MIN_PASSWORD_CHARS: usize = 10;
/// An upper bound keeps hashing cost bounded for hostile input.
pub const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("this password is too common; choose another")]
    Common,
    #[error("password must not contain your email address")]
    ContainsEmail,
}

impl PasswordError {
    pub fn code(&self) -> &'static str {
        match self {
            PasswordError::TooShort => "too_short",
            PasswordError::TooLong => "too_long",
            PasswordError::Common => "common_password",
            PasswordError::ContainsEmail => "contains_email",
        }
    }
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("common_passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
}

impl NewPassword {
    /// `email_local_part` is the part before `@` of the account's address.
    pub fn parse(raw: &str, email_local_part: Option<&str>) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        let lowered = raw.to_lowercase();
        let mut distinct = lowered.chars().collect::<Vec<_>>();
        distinct.sort_unstable();
        distinct.dedup();
        if common_passwords().contains(lowered.as_str()) || distinct.len() <= 2 {
            return Err(PasswordError::Common);
        }
        if let Some(local) = email_local_part
            && local.chars().count() >= 4
            && lowered.contains(&local.to_lowercase())
        {
            return Err(PasswordError::ContainsEmail);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_in_characters_not_bytes() {
        assert_eq!(NewPassword::parse("short", None).map(|_| ()), Err(PasswordError::TooShort));
        // Nine characters, many more bytes.
        assert_eq!(NewPassword::parse("ñandú€€€€€", None).map(|_| ()).err(), None);
        assert_eq!(NewPassword::parse("ñandú€€€€", None).map(|_| ()), Err(PasswordError::TooShort));
        assert_eq!(NewPassword::parse(&"x1".repeat(65), None).map(|_| ()), Err(PasswordError::TooLong));
    }

    #[test]
    fn rejects_common_and_trivial_passwords() {
        for common in ["password123", "Password123", "1234567890", "QWERTYUIOP", "aaaaaaaaaaaa", "ababababab"] {
            assert_eq!(NewPassword::parse(common, None).map(|_| ()), Err(PasswordError::Common), "{common}");
        }
        assert!(NewPassword::parse("correct horse battery", None).is_ok());
    }

    #[test]
    fn rejects_the_email_inside_the_password() {
        assert_eq!(
            NewPassword::parse("garcia-secure-2026", Some("garcia")).map(|_| ()),
            Err(PasswordError::ContainsEmail)
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let password = NewPassword::parse("correct horse battery", None).expect("valid");
        assert_eq!(format!("{password:?}"), "NewPassword(***)");
    }
}
