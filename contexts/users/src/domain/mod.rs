//! The users domain: value types that hold their own invariants, and the
//! account they make up. Parsed once at the HTTP edge; inner code never sees a
//! raw string where one of these exists.

mod email;
mod password;
mod profile;

pub use email::{Email, EmailError};
pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, NewPassword, PasswordError};
pub use profile::{
    Address, DisplayName, Language, MAX_ADDRESSES, MAX_DISPLAY_NAME_CHARS, Phone, Preferences, ProfileError, clean_text,
};

use chrono::{DateTime, Utc};
use kernel::UserId;
use kernel::auth::Role;

/// A user account as the rest of the context sees it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: UserId,
    pub email: Email,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub display_name: DisplayName,
    pub phone: Option<String>,
    pub addresses: Vec<Address>,
    pub preferences: Preferences,
    pub roles: Vec<Role>,
    pub active: bool,
    pub erased_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Roles as stored: a sorted, de-duplicated, comma-separated list.
pub fn roles_to_text(roles: &[Role]) -> String {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
}

pub fn roles_from_text(text: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = text.split(',').filter_map(|name| Role::parse(name.trim())).collect();
    roles.sort();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_text_is_canonical() {
        let text = roles_to_text(&[Role::Admin, Role::Customer, Role::Admin]);
        assert_eq!(text, "customer,admin");
        assert_eq!(roles_from_text(&text), vec![Role::Customer, Role::Admin]);
        assert_eq!(roles_from_text("admin,unknown"), vec![Role::Admin]);
    }
}
