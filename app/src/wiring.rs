//! The composition root: the one place that knows every context's
//! implementation and hands each one the ports it needs.

use crate::config::{CONTEXTS, Settings};
use catalog::images::ImageStore;
use catalog::{CatalogService, InProcessCatalogApi};
use kernel::auth::Authenticator;
use kernel::clock::{Clock, SystemClock};
use kernel::db::{ContextDatabase, DatabaseSettings, DbError, Location, MigrateFn, provision_postgres};
use kernel::events::{EventBus, Outbox, Relay, RelayHandle, RelayMetrics, RelaySettings, RetryPolicy};
use kernel::mail::{FileMailer, Mailer, SmtpMailer};
use orchestration::runner::{FaultInjection, RunnerHandle, SagaRunner};
use orders::payments::SandboxGateway;
use orders::{CartService, InProcessOrdersApi, OrderService};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use users::passwords::{HashingProfile, PasswordHasher};
use users::service::UsersPorts;
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
        catalog::CONTEXT => Some(catalog::migrate),
        orders::CONTEXT => Some(orders::migrate),
        orchestration::CONTEXT => Some(orchestration::migrate),
        support::CONTEXT => Some(support::migrate),
        _ => None,
    }
}

/// One context's relay, ready to run, and what `/metrics` reads of it.
pub struct RelayInfo {
    pub context: &'static str,
    pub db: ContextDatabase,
    pub metrics: Arc<RelayMetrics>,
}

/// The assembled shop: every context's database and service.
pub struct Shop {
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub databases: Vec<ContextDatabase>,
    /// The in-process transport; subscribers register here.
    pub bus: EventBus,
    /// The contexts that publish events, with their relays' counters.
    pub relays: Vec<RelayInfo>,
    idle_relays: Mutex<Vec<Relay>>,
    pub users: Arc<UsersService>,
    pub users_api: Arc<InProcessUsersApi>,
    pub catalog: Arc<CatalogService>,
    pub catalog_api: Arc<InProcessCatalogApi>,
    pub carts: Arc<CartService>,
    pub orders: Arc<OrderService>,
    pub orders_api: Arc<InProcessOrdersApi>,
    pub payments: Arc<SandboxGateway>,
    saga_runner: Mutex<Option<SagaRunner>>,
    pub sagas_db: ContextDatabase,
    pub support: Arc<support::SupportService>,
}

impl Shop {
    /// Opens pools and builds services. Touches no database yet.
    pub fn assemble(settings: Settings) -> Result<Self, StartError> {
        Self::assemble_with_clock(settings, Arc::new(SystemClock))
    }

    pub fn assemble_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
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
        let database_of = |context: &str| {
            databases
                .iter()
                .find(|db| db.context() == context)
                .cloned()
                .ok_or_else(|| DbError::UnsupportedUrl(format!("no {context} database")))
        };
        let users_db = database_of(users::CONTEXT)?;
        let catalog_db = database_of(catalog::CONTEXT)?;
        let orders_db = database_of(orders::CONTEXT)?;
        let orchestration_db = database_of(orchestration::CONTEXT)?;
        let support_db = database_of(support::CONTEXT)?;

        if settings.auth.password_hashing == HashingProfile::InsecureTestOnly {
            tracing::warn!(
                "auth.password_hashing = insecure-test-only: password hashes are WEAK; never use this outside tests"
            );
        }
        let key = match &settings.auth.signing_key {
            Some(encoded) => SigningKey::from_base64(encoded)?,
            None => SigningKey::load_or_create(&settings.data_dir.join("secrets").join("signing.key"))?,
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
            None => Arc::new(FileMailer::new(settings.data_dir.join("mail"), settings.mail.from.clone())),
        };
        let bus = EventBus::new();
        let relay_settings = RelaySettings {
            retry: RetryPolicy {
                max_attempts: settings.events.max_attempts,
                base_delay: Duration::from_millis(settings.events.retry_base_ms),
                max_delay: Duration::from_millis(settings.events.retry_max_ms),
            },
            sweep_interval: Duration::from_millis(settings.events.sweep_interval_ms),
            lease_ttl: Duration::from_secs(settings.events.lease_ttl_secs),
            ..RelaySettings::default()
        };
        let users_outbox = Outbox::new(users::CONTEXT, clock.clone());
        let catalog_outbox = Outbox::new(catalog::CONTEXT, clock.clone());
        let orders_outbox = Outbox::new(orders::CONTEXT, clock.clone());
        let support_outbox = Outbox::new(support::CONTEXT, clock.clone());
        // One relay per context that publishes events.
        let (relays, idle_relays): (Vec<RelayInfo>, Vec<Relay>) = [
            (&users_db, &users_outbox),
            (&catalog_db, &catalog_outbox),
            (&orders_db, &orders_outbox),
            (&support_db, &support_outbox),
        ]
        .into_iter()
        .map(|(db, outbox)| {
            let relay = Relay::new(db.clone(), outbox.wake(), Arc::new(bus.clone()), clock.clone(), relay_settings);
            (RelayInfo { context: db.context(), db: db.clone(), metrics: relay.metrics() }, relay)
        })
        .unzip();

        let users = Arc::new(UsersService::new(
            UsersPorts {
                db: users_db,
                clock: clock.clone(),
                hasher: PasswordHasher::new(settings.auth.password_hashing),
                tokens: TokenIssuer::new(&key, users_settings.access_token_ttl),
                mailer,
                outbox: users_outbox,
            },
            users_settings,
        ));
        let users_api = Arc::new(InProcessUsersApi::new(users.clone()));
        let catalog = Arc::new(CatalogService::new(
            catalog_db,
            clock.clone(),
            catalog_outbox,
            ImageStore::new(settings.data_dir.join("images")),
        ));
        let catalog_api = Arc::new(InProcessCatalogApi::new(catalog.clone()));
        let carts = Arc::new(CartService::new(orders_db.clone(), clock.clone(), catalog_api.clone()));
        let payments = Arc::new(SandboxGateway::new(Duration::from_millis(settings.checkout.sandbox_slow_ms)));
        let orders = Arc::new(OrderService::new(orders_db, clock.clone(), orders_outbox, payments.clone()));
        let orders_api = Arc::new(InProcessOrdersApi::new(orders.clone()));

        // Orchestration: an OrderPlaced starts a checkout saga (recorded in
        // orchestration's own inbox), and wakes the runner.
        let saga_wake = kernel::events::Wake::new();
        let start_wake = saga_wake.clone();
        bus.subscribe::<orders_api::events::OrderPlaced, _>(
            "orchestration.start_checkout",
            orchestration_db.clone(),
            move |conn, event, _| {
                let lines = event
                    .lines
                    .iter()
                    .map(|line| catalog_api::StockLine { product_id: line.product_id, quantity: line.quantity })
                    .collect();
                orchestration::runner::start_checkout(conn, event.order_id, lines, chrono::Utc::now().naive_utc())?;
                start_wake.notify();
                Ok(())
            },
        );
        let cancel_wake = saga_wake.clone();
        bus.subscribe::<orders_api::events::CancellationRequested, _>(
            "orchestration.start_cancellation",
            orchestration_db.clone(),
            move |conn, event, _| {
                let lines = event
                    .lines
                    .iter()
                    .map(|line| catalog_api::StockLine { product_id: line.product_id, quantity: line.quantity })
                    .collect();
                orchestration::runner::start_cancellation(conn, event.order_id, lines, chrono::Utc::now().naive_utc())?;
                cancel_wake.notify();
                Ok(())
            },
        );
        // Orders: an erased customer's orders keep their figures, not their addresses.
        let anonymiser = orders.clone();
        bus.subscribe::<users_api::events::UserErased, _>(
            "orders.anonymise_addresses",
            orders.database().clone(),
            move |conn, event, _| {
                anonymiser.anonymise_orders_of(conn, event.user_id)?;
                Ok(())
            },
        );
        let support = Arc::new(support::SupportService::new(support_db.clone(), clock.clone(), support_outbox));
        // Support: an erased customer's words leave their tickets.
        let anonymiser = support.clone();
        bus.subscribe::<users_api::events::UserErased, _>(
            "support.anonymise_tickets",
            support_db,
            move |conn, event, _| {
                anonymiser.anonymise(conn, event.user_id)?;
                Ok(())
            },
        );
        let return_wake = saga_wake.clone();
        bus.subscribe::<support_api::events::ReturnApproved, _>(
            "orchestration.start_return",
            orchestration_db.clone(),
            move |conn, event, _| {
                let lines = event
                    .lines
                    .iter()
                    .map(|line| catalog_api::StockLine { product_id: line.product_id, quantity: line.quantity })
                    .collect();
                orchestration::runner::start_return(
                    conn,
                    event.order_id,
                    &event.ticket_id,
                    lines,
                    event.amount,
                    chrono::Utc::now().naive_utc(),
                )?;
                return_wake.notify();
                Ok(())
            },
        );
        let saga_runner = SagaRunner::new(
            orchestration_db.clone(),
            clock.clone(),
            catalog_api.clone(),
            orders_api.clone(),
            Arc::new(support::returns::InProcessSupportApi::new(support.clone())),
            saga_wake,
            FaultInjection { hang_after_step: settings.testing.saga_hang_after_step.clone() },
        );
        Ok(Self {
            settings,
            clock,
            databases,
            bus,
            relays,
            idle_relays: Mutex::new(idle_relays),
            users,
            users_api,
            catalog,
            catalog_api,
            carts,
            orders,
            orders_api,
            payments,
            saga_runner: Mutex::new(Some(saga_runner)),
            sagas_db: orchestration_db,
            support,
        })
    }

    /// Starts every context's relay on its own thread (once; later calls
    /// start nothing). Stopping a handle drains what is due first.
    pub fn start_relays(&self) -> Vec<RelayHandle> {
        let idle = std::mem::take(&mut *self.idle_relays.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        idle.into_iter().map(Relay::spawn).collect()
    }

    /// Starts the catalog's sweeper: every `interval`, held reservations past
    /// their expiry (a checkout that died) are released.
    pub fn start_sweeper(&self, interval: Duration) -> Sweeper {
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let catalog = self.catalog.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("reservation-sweeper".into())
            .spawn(move || {
                let (lock, condvar) = &*flag;
                let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                while !*stopped {
                    if let Err(error) = catalog.sweep_expired() {
                        tracing::warn!(error = %error, "reservation sweep failed");
                    }
                    stopped = condvar.wait_timeout(stopped, interval).unwrap_or_else(|p| p.into_inner()).0;
                }
            })
            .ok();
        Sweeper { stop, thread }
    }

    /// Starts the saga runner (once). Dropping the handle stops it.
    pub fn start_saga_runner(&self) -> Option<RunnerHandle> {
        let runner = self.saga_runner.lock().unwrap_or_else(|p| p.into_inner()).take()?;
        Some(runner.spawn(Duration::from_millis(200)))
    }

    /// The database of a context, by name.
    pub fn database(&self, context: &str) -> Option<&ContextDatabase> {
        self.databases.iter().find(|db| db.context() == context)
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
            if let Location::Postgres { url } = Location::parse(&self.settings.database_url(context))? {
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

/// The running reservation sweeper; dropping it stops the thread.
pub struct Sweeper {
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        let (lock, condvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        condvar.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
