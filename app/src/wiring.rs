//! The composition root: the one place that knows every context's
//! implementation and hands each one the ports it needs.

use crate::config::{CONTEXTS, Settings};
use kernel::auth::Authenticator;
use kernel::clock::{Clock, SystemClock};
use kernel::db::{
    ContextDatabase, DatabaseSettings, DbError, Location, MigrateFn, provision_postgres,
};
use kernel::mail::{FileMailer, Mailer, SmtpMailer};
use std::sync::Arc;
use std::time::Duration;
use users::passwords::{HashingProfile, PasswordHasher};
use users::tokens::{SigningKey, TokenIssuer};
use users::{InProcessUsersApi, UsersService, UsersSettings};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("token signing key: {0}")]
    SigningKey(#[from] users::tokens::KeyError),
    #[error("mail: {0}")]
    Mail(#[from] kernel::mail::MailError),
}

/// The migrations each context ships; `None` for a context that has no
/// tables yet.
fn migrations_of(context: &str) -> Option<MigrateFn> {
    match context {
        users::CONTEXT => Some(users::migrate),
        _ => None,
    }
}

/// The assembled shop: every context's database and service.
pub struct Shop {
    pub settings: Settings,
    pub databases: Vec<ContextDatabase>,
    pub users: Arc<UsersService>,
    pub users_api: Arc<InProcessUsersApi>,
}

impl Shop {
    /// Opens pools and builds services. Touches no database yet.
    pub fn assemble(settings: Settings) -> Result<Self, StartError> {
        Self::assemble_with_clock(settings, Arc::new(SystemClock))
    }

    pub fn assemble_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let mut databases = Vec::with_capacity(CONTEXTS.len());
        for context in CONTEXTS {
            let location = Location::parse(&settings.database_url(context))?;
            let role = match location {
                Location::Postgres { .. } => settings.context_role(context),
                Location::Sqlite { .. } => None,
            };
            databases.push(ContextDatabase::open(DatabaseSettings {
                context,
                location,
                role,
                max_connections: settings.database.max_connections,
                acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
            })?);
        }
        let users_db = databases
            .iter()
            .find(|db| db.context() == users::CONTEXT)
            .cloned()
            .ok_or_else(|| DbError::UnsupportedUrl("no users database".into()))?;

        if settings.auth.password_hashing == HashingProfile::InsecureTestOnly {
            tracing::warn!(
                "auth.password_hashing = insecure-test-only: password hashes are WEAK; never use this outside tests"
            );
        }
        let key = match &settings.auth.signing_key {
            Some(encoded) => SigningKey::from_base64(encoded)?,
            None => {
                SigningKey::load_or_create(&settings.data_dir.join("secrets").join("signing.key"))?
            }
        };
        let users_settings = UsersSettings {
            access_token_ttl: chrono::Duration::seconds(settings.auth.access_token_ttl_secs),
            session_ttl: chrono::Duration::days(settings.auth.session_ttl_days),
            lockout_threshold: settings.auth.lockout_threshold,
            lockout_window: chrono::Duration::seconds(settings.auth.lockout_window_secs),
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
            ..UsersSettings::default()
        };
        let mailer: Arc<dyn Mailer> = match &settings.mail.smtp_url {
            Some(url) => Arc::new(SmtpMailer::from_url(url, settings.mail.from.clone())?),
            None => Arc::new(FileMailer::new(
                settings.data_dir.join("mail"),
                settings.mail.from.clone(),
            )),
        };
        let users = Arc::new(UsersService::new(
            users_db,
            clock,
            PasswordHasher::new(settings.auth.password_hashing),
            TokenIssuer::new(&key, users_settings.access_token_ttl),
            mailer,
            users_settings,
        ));
        let users_api = Arc::new(InProcessUsersApi::new(users.clone()));
        Ok(Self {
            settings,
            databases,
            users,
            users_api,
        })
    }

    pub fn authenticator(&self) -> Arc<dyn Authenticator> {
        self.users_api.clone()
    }

    /// Prepares every context's database: on PostgreSQL its schema (and role),
    /// then its pending migrations. Idempotent.
    pub fn migrate(&self) -> Result<Vec<(String, Vec<String>)>, StartError> {
        let mut applied = Vec::new();
        for db in &self.databases {
            let context = db.context();
            if let Location::Postgres { url } =
                Location::parse(&self.settings.database_url(context))?
            {
                let role = self.settings.context_role(context);
                provision_postgres(&url, context, role.as_deref())?;
            }
            if let Some(migrate) = migrations_of(context) {
                let versions = db.migrate(migrate)?;
                if !versions.is_empty() {
                    tracing::info!(context, migrations = ?versions, "migrations applied");
                }
                applied.push((context.to_owned(), versions));
            }
        }
        Ok(applied)
    }
}
