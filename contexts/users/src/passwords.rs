//! Password hashing with argon2id.
//!
//! The default parameters are OWASP's (19 MiB of memory, two passes, one
//! lane). A cheaper profile exists only for test suites, under a name no one
//! would configure by accident, and the app warns loudly when it is used.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HashingProfile {
    /// argon2id, m = 19456 KiB, t = 2, p = 1 (OWASP Password Storage Cheat Sheet).
    #[default]
    Owasp,
    /// argon2id with minimal memory and one pass: only for test suites.
    InsecureTestOnly,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

pub struct PasswordHasher {
    argon: Argon2<'static>,
    /// Verified against when an email is unknown, so that "no such account"
    /// and "wrong password" take the same time.
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(profile: HashingProfile) -> Self {
        let params = match profile {
            HashingProfile::Owasp => Params::new(19_456, 2, 1, None),
            HashingProfile::InsecureTestOnly => Params::new(64, 1, 1, None),
        }
        .unwrap_or_default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let dummy_hash = argon
            .hash_password(b"no account has this password", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default();
        Self { argon, dummy_hash }
    }

    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| HashError(error.to_string()))
    }

    /// True when `password` matches `stored`. A malformed stored hash (an erased
    /// account's) never matches.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        match PasswordHash::new(stored) {
            Ok(parsed) => self.argon.verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => {
                self.waste_time(password);
                false
            }
        }
    }

    /// Spends the time a real verification would, for unknown accounts.
    pub fn waste_time(&self, password: &str) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy_hash) {
            let _ = self.argon.verify_password(password.as_bytes(), &parsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let hasher = PasswordHasher::new(HashingProfile::InsecureTestOnly);
        let first = hasher.hash("correct horse battery").expect("hash");
        let second = hasher.hash("correct horse battery").expect("hash");
        assert_ne!(first, second);
        assert!(first.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse battery", &first));
        assert!(!hasher.verify("wrong horse battery", &first));
        assert!(!hasher.verify("anything", "!erased"));
    }

    #[test]
    fn default_profile_uses_owasp_parameters() {
        let hasher = PasswordHasher::new(HashingProfile::default());
        let hash = hasher.hash("correct horse battery").expect("hash");
        assert!(hash.contains("m=19456,t=2,p=1"), "{hash}");
    }
}
