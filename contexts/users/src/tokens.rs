//! Access tokens (short-lived signed JWTs naming a session) and opaque
//! single-use secrets (refresh, verification and reset tokens), which are
//! stored only as SHA-256 hashes.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kernel::{SessionId, UserId};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The HMAC key access tokens are signed with.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the configured signing key is not valid base64")]
    NotBase64,
    #[error("the signing key must be at least 32 bytes")]
    TooShort,
    #[error("cannot read or write the signing key file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub const MIN_KEY_BYTES: usize = 32;

impl SigningKey {
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| KeyError::NotBase64)?;
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(Self(bytes))
    }

    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 64];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads the key kept in `path`, or generates one and writes it there
    /// readable by the owner only.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let file_error = |source| KeyError::File { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(file_error)?;
                }
                let key = Self::generate();
                write_owner_only(path, STANDARD.encode(&key.0).as_bytes()).map_err(file_error)?;
                tracing::info!(key.file = %path.display(), "generated a new token signing key");
                Ok(key)
            }
            Err(error) => Err(file_error(error)),
        }
    }
}

fn write_owner_only(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The session the token belongs to; checked on every request so that
    /// logging out ends the token at once.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

const ISSUER: &str = "tienda";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token")]
    Invalid,
    #[error("expired token")]
    Expired,
}

pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl: Duration,
}

impl TokenIssuer {
    pub fn new(key: &SigningKey, access_ttl: Duration) -> Self {
        Self { encoding: EncodingKey::from_secret(&key.0), decoding: DecodingKey::from_secret(&key.0), access_ttl }
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    pub fn issue_access(&self, user: UserId, session: SessionId, now: DateTime<Utc>) -> Result<String, TokenError> {
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            sub: user.to_string(),
            sid: session.to_string(),
            iat: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|_| TokenError::Invalid)
    }

    /// Checks signature, issuer and expiry (against our clock, not the host's).
    pub fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<(UserId, SessionId), TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[ISSUER]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        let user = UserId::parse(&data.claims.sub).map_err(|_| TokenError::Invalid)?;
        let session = SessionId::parse(&data.claims.sid).map_err(|_| TokenError::Invalid)?;
        Ok((user, session))
    }
}

/// A fresh 256-bit secret, URL-safe.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The form a secret is stored in.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(&SigningKey::generate(), Duration::minutes(15))
    }

    #[test]
    fn access_tokens_round_trip_until_they_expire() {
        let issuer = issuer();
        let now = Utc::now();
        let (user, session) = (UserId::new(), SessionId::new());
        let token = issuer.issue_access(user, session, now).expect("issued");
        assert_eq!(issuer.verify_access(&token, now), Ok((user, session)));
        assert_eq!(issuer.verify_access(&token, now + Duration::minutes(16)), Err(TokenError::Expired));
    }

    #[test]
    fn tokens_from_another_key_or_tampered_are_invalid() {
        let now = Utc::now();
        let token = issuer().issue_access(UserId::new(), SessionId::new(), now).expect("issued");
        assert_eq!(issuer().verify_access(&token, now), Err(TokenError::Invalid));
        assert_eq!(issuer().verify_access("not.a.jwt", now), Err(TokenError::Invalid));
    }

    #[test]
    fn secrets_are_random_and_hashed_deterministically() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_eq!(hash_secret(&a).len(), 64);
        assert!(!hash_secret(&a).contains(&a));
    }

    #[test]
    fn key_file_is_created_owner_only_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secrets/signing.key");
        let first = SigningKey::load_or_create(&path).expect("created");
        let second = SigningKey::load_or_create(&path).expect("loaded");
        assert_eq!(first.0, second.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn configured_keys_must_be_long_enough() {
        assert!(matches!(SigningKey::from_base64("c2hvcnQ="), Err(KeyError::TooShort)));
        assert!(matches!(SigningKey::from_base64("***"), Err(KeyError::NotBase64)));
    }
}
