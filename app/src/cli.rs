//! The `tienda` command line.

use crate::config::Settings;
use crate::wiring::Shop;
use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "tienda", version, about = "Tienda: the shop as a modular monolith")]
pub struct Cli {
    /// Configuration file (default: ./tienda.toml when it exists).
    #[arg(long, global = true, env = "TIENDA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory for SQLite files, mail and secrets (overrides config).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole shop in one process; applies pending migrations first.
    Serve {
        /// Address to listen on (overrides config), e.g. 0.0.0.0:8080.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Prepare every context's database (schemas, roles) and apply migrations.
    Migrate,
    /// Fill the catalog: `--demo` for a small shop, `--products N` for benchmarks.
    Seed {
        #[arg(long)]
        demo: bool,
        #[arg(long)]
        products: Option<usize>,
    },
    /// List sagas (newest first) with their state and current step.
    Sagas {
        /// Only sagas in this state: running, compensating, completed, failed.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Events: list dead letters, replay one.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Every delivery that was given up, with its last error.
    DeadLetters,
    /// Queue an event's dead deliveries again (the running shop's relay
    /// delivers them at its next sweep).
    Replay { event_id: String },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator account. The password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    crate::telemetry::init(settings.log_format);
    match cli.command {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            serve(settings)
        }
        Command::Migrate => match Shop::assemble(settings).and_then(|shop| shop.migrate()) {
            Ok(applied) => {
                for (context, versions) in applied {
                    println!("{context}: {} migration(s) applied", versions.len());
                }
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
        Command::Events { command } => events(settings, command),
        Command::Sagas { state, limit } => sagas(settings, state, limit),
        Command::Seed { demo, products } => seed(settings, demo, products),
        Command::Admin { command: AdminCommand::Create { email, display_name } } => {
            create_admin(settings, &email, &display_name)
        }
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("tienda: {error}");
    ExitCode::FAILURE
}

fn serve(settings: Settings) -> ExitCode {
    let bind = settings.bind.clone();
    let shop = match Shop::assemble(settings) {
        Ok(shop) => shop,
        Err(error) => return fail(&error),
    };
    if let Err(error) = shop.migrate() {
        return fail(&error);
    }
    let listener = match TcpListener::bind(&bind) {
        Ok(listener) => listener,
        Err(error) => return fail(&format!("cannot listen on {bind}: {error}")),
    };
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or(bind);
    let shop = std::sync::Arc::new(shop);
    let relays = shop.start_relays();
    let sweeper = shop.start_sweeper(std::time::Duration::from_secs(30));
    let sagas = shop.start_saga_runner();
    let result = actix_web::rt::System::new().block_on(async move {
        let server = crate::server::build(shop, listener)?;
        tracing::info!(http.address = %address, "tienda is serving; docs at /api/docs/");
        server.await
    });
    // Requests have drained; let each relay deliver what is due, then stop.
    drop(sagas);
    drop(sweeper);
    for relay in relays {
        relay.stop();
    }
    match result {
        Ok(()) => {
            tracing::info!("shut down cleanly");
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}

fn create_admin(settings: Settings, email: &str, display_name: &str) -> ExitCode {
    use users::domain::{DisplayName, Email, NewPassword};
    use users::service::Registration;
    let Ok(email) = Email::parse(email) else {
        return fail(&"--email is not a valid email address");
    };
    let Ok(display_name) = DisplayName::parse(display_name) else {
        return fail(&"--display-name is not valid");
    };
    let mut password = String::new();
    if std::io::stdin().lock().read_line(&mut password).is_err() {
        return fail(&"could not read the password from standard input");
    }
    let password = password.trim_end_matches(['\r', '\n']);
    let password = match NewPassword::parse(password, email.as_str().split('@').next()) {
        Ok(password) => password,
        Err(error) => return fail(&format!("password: {error}")),
    };
    let shop = match Shop::assemble(settings) {
        Ok(shop) => shop,
        Err(error) => return fail(&error),
    };
    if let Err(error) = shop.migrate() {
        return fail(&error);
    }
    match shop.users.create_account(Registration { email, password, display_name }, &[kernel::auth::Role::Admin]) {
        Ok(account) => {
            println!("created admin {} ({})", account.email, account.id);
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}

fn events(settings: Settings, command: EventsCommand) -> ExitCode {
    let shop = match Shop::assemble(settings).and_then(|shop| shop.migrate().map(|_| shop)) {
        Ok(shop) => shop,
        Err(error) => return fail(&error),
    };
    match command {
        EventsCommand::DeadLetters => match crate::events_admin::list_dead_letters(&shop) {
            Ok(letters) if letters.is_empty() => {
                println!("no dead letters");
                ExitCode::SUCCESS
            }
            Ok(letters) => {
                println!(
                    "{:<14} {:<36} {:<32} {:<32} {:>8}  last error",
                    "context", "event id", "event", "subscriber", "attempts"
                );
                for letter in letters {
                    let dead = letter.dead_letter;
                    println!(
                        "{:<14} {:<36} {:<32} {:<32} {:>8}  {}",
                        letter.context,
                        dead.event_id,
                        dead.event_name,
                        dead.subscriber,
                        dead.attempts,
                        dead.last_error.unwrap_or_default()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
        EventsCommand::Replay { event_id } => match crate::events_admin::replay(&shop, &event_id) {
            Ok(0) => fail(&format!("no dead letter for event {event_id}")),
            Ok(n) => {
                println!("queued {n} delivery(ies) of event {event_id} again");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
    }
}

fn seed(settings: Settings, demo: bool, products: Option<usize>) -> ExitCode {
    let count = match (demo, products) {
        (_, Some(n)) => n,
        (true, None) => 300,
        (false, None) => return fail(&"say --demo or --products N"),
    };
    let shop = match Shop::assemble(settings).and_then(|shop| shop.migrate().map(|_| shop)) {
        Ok(shop) => shop,
        Err(error) => return fail(&error),
    };
    // Number new products after the existing ones, so seeding twice adds
    // rather than colliding on SKUs.
    let first = match shop.catalog.search(catalog::service::SearchRequest {
        text: None,
        category: None,
        min_price: None,
        max_price: None,
        in_stock: false,
        sort: None,
        after: None,
        limit: 1,
    }) {
        Ok(page) => page.items.first().map(|p| p.seq as usize).unwrap_or(0),
        Err(error) => return fail(&error),
    };
    let relays = shop.start_relays();
    let started = std::time::Instant::now();
    let result = catalog::seed::seed_products(&shop.catalog, count, first);
    for relay in relays {
        relay.stop();
    }
    match result {
        Ok(n) => {
            println!("seeded {n} products in {:.1} s", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}

fn sagas(settings: Settings, state: Option<String>, limit: i64) -> ExitCode {
    let shop = match Shop::assemble(settings).and_then(|shop| shop.migrate().map(|_| shop)) {
        Ok(shop) => shop,
        Err(error) => return fail(&error),
    };
    let rows = shop.sagas_db.conn().map_err(|e| e.to_string()).and_then(|mut conn| {
        orchestration::runner::list_sagas(&mut conn, state.as_deref(), None, limit.clamp(1, 1000))
            .map_err(|e| e.to_string())
    });
    match rows {
        Ok(rows) if rows.is_empty() => {
            println!("no sagas");
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            println!(
                "{:<36} {:<9} {:<36} {:<12} {:<8} {:>8}  last error",
                "saga", "kind", "order", "state", "step", "attempts"
            );
            for row in rows {
                println!(
                    "{:<36} {:<9} {:<36} {:<12} {:<8} {:>8}  {}",
                    row.id,
                    row.kind,
                    row.order_id,
                    row.state,
                    row.step,
                    row.attempts,
                    row.last_error.unwrap_or_default()
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}
