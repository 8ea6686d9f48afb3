//! Events through outbox → relay → inbox on each backend: throughput, and
//! latency from commit to the subscriber's effect.
//!
//!     cargo bench -p kernel --bench events            # SQLite
//!     BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!         cargo bench -p kernel --bench events        # SQLite and PostgreSQL
//!
//! Options: EVENTS (default 5000), PRODUCERS (default 2).

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use kernel::clock::SystemClock;
use kernel::db::{DbConn, DbError};
use kernel::events::{Event, EventBus, Outbox, Relay, RelaySettings, create_tables};
use kernel::testing::TestDatabase;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize)]
struct Measured {
    n: i64,
}

impl Event for Measured {
    const NAME: &'static str = "bench_emitter.Measured";
    const VERSION: u32 = 1;
}

fn emitter(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    create_tables(conn)?;
    Ok(vec![])
}

fn subscriber(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    create_tables(conn)?;
    conn.batch_execute("CREATE TABLE effects (n BIGINT NOT NULL)")?;
    Ok(vec![])
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// `pace`: the gap between one producer's commits; `None` commits flat out
/// (throughput), `Some` keeps the relay unsaturated (latency).
fn run(label: &str, backend: &Backend, events: usize, producers: usize, pace: Option<Duration>) {
    let (emitter_db, subscriber_db) = backend.databases();
    let clock = Arc::new(SystemClock);
    let outbox = Outbox::new("bench_emitter", clock.clone());
    let bus = EventBus::new();
    let committed: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let (commits, observed) = (committed.clone(), latencies.clone());
    bus.subscribe::<Measured, _>("bench_subscriber.apply", subscriber_db.db.clone(), move |conn, event, _| {
        diesel::sql_query("INSERT INTO effects (n) VALUES ($1)")
            .bind::<diesel::sql_types::BigInt, _>(event.n)
            .execute(conn)?;
        if let Some(at) = commits.lock().expect("commits").get(&event.n) {
            observed.lock().expect("latencies").push(at.elapsed());
        }
        Ok(())
    });
    let relay =
        Relay::new(emitter_db.db.clone(), outbox.wake(), Arc::new(bus), clock, RelaySettings::default()).spawn();

    let started = Instant::now();
    std::thread::scope(|scope| {
        for producer in 0..producers {
            let (outbox, db, committed) = (outbox.clone(), emitter_db.db.clone(), committed.clone());
            scope.spawn(move || {
                let mut conn = db.conn().expect("conn");
                for i in 0..events / producers {
                    let n = (producer * events + i) as i64;
                    outbox
                        .transaction(&mut conn, |conn| {
                            let recorded = outbox.record(conn, &Measured { n }).map(|_| ());
                            // The commit instant is taken as late as possible
                            // inside the transaction; the commit follows at once.
                            committed.lock().expect("commits").insert(n, Instant::now());
                            recorded
                        })
                        .expect("commit");
                    if let Some(pace) = pace {
                        std::thread::sleep(pace);
                    }
                }
            });
        }
    });
    let produced = started.elapsed();
    let total = (events / producers) * producers;
    let deadline = Instant::now() + Duration::from_secs(300);
    while latencies.lock().expect("latencies").len() < total {
        assert!(Instant::now() < deadline, "events did not all arrive");
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = started.elapsed();
    relay.stop();
    let mut latencies = latencies.lock().expect("latencies").clone();
    latencies.sort_unstable();
    let mode = match pace {
        None => "flat out".to_owned(),
        Some(pace) => format!("paced, {:.0}/s", producers as f64 / pace.as_secs_f64()),
    };
    println!(
        "{label:<9} {mode:<15} {total:>5} events, {producers} producers: {:>7.0} events/s end to end \
         (commits alone {:>7.0}/s); commit→handler p50 {:>7.2} ms, p99 {:>7.2} ms",
        total as f64 / elapsed.as_secs_f64(),
        total as f64 / produced.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
    );
}

enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    fn databases(&self) -> (TestDatabase, TestDatabase) {
        match self {
            Backend::Sqlite => {
                (TestDatabase::sqlite("bench_emitter", emitter), TestDatabase::sqlite("bench_subscriber", subscriber))
            }
            Backend::Postgres(url) => (
                TestDatabase::postgres(url, "bench_emitter", emitter),
                TestDatabase::postgres(url, "bench_subscriber", subscriber),
            ),
        }
    }
}

fn main() {
    let events = env_number("EVENTS", 5000);
    let producers = env_number("PRODUCERS", 2).max(1);
    let mut backends = vec![("sqlite", Backend::Sqlite)];
    if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
        backends.push(("postgres", Backend::Postgres(url)));
    }
    for (label, backend) in &backends {
        run(label, backend, events, producers, None);
        // 200 events/s in all: well below either backend's capacity.
        run(label, backend, 1000, producers, Some(Duration::from_millis(5 * producers as u64)));
    }
}
