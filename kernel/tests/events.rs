//! The event machinery against real databases (SQLite always, PostgreSQL
//! with TEST_DATABASE_URL): nothing published for a rollback, nothing lost
//! for a commit, retries, dead letters and replay, redelivery without a
//! second effect, racing relays, and order.

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use kernel::clock::{Clock, ManualClock};
use kernel::db::{DbConn, DbError};
use kernel::events::{
    Event, EventBus, HandlerError, Outbox, Relay, RelaySettings, RetryPolicy, Transport, admin, create_tables,
};
use kernel::testing::{TestDatabase, test_databases};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

const EMITTER: &str = "kernel_emitter";
const SUBSCRIBER: &str = "kernel_subscriber";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ThingHappened {
    n: i64,
}

impl Event for ThingHappened {
    const NAME: &'static str = "kernel_emitter.ThingHappened";
    const VERSION: u32 = 1;
}

fn emitter_tables(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    create_tables(conn)?;
    Ok(vec![])
}

fn subscriber_tables(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    create_tables(conn)?;
    // No unique key on purpose: a second effect would show as a second row.
    conn.batch_execute("CREATE TABLE effects (event_id TEXT NOT NULL, n BIGINT NOT NULL, position BIGINT NOT NULL)")?;
    Ok(vec![])
}

struct World {
    emitter: TestDatabase,
    subscriber: TestDatabase,
    clock: Arc<ManualClock>,
    outbox: Outbox,
    bus: EventBus,
    /// While set, the subscriber's handler fails.
    broken: Arc<AtomicBool>,
    /// The handler fails this many more times before succeeding.
    failures_left: Arc<AtomicU32>,
}

fn worlds() -> Vec<World> {
    test_databases(EMITTER, emitter_tables)
        .into_iter()
        .zip(test_databases(SUBSCRIBER, subscriber_tables))
        .map(|(emitter, subscriber)| {
            let clock = Arc::new(ManualClock::new(Utc::now()));
            let outbox = Outbox::new(EMITTER, clock.clone());
            let bus = EventBus::new();
            let broken = Arc::new(AtomicBool::new(false));
            let failures_left = Arc::new(AtomicU32::new(0));
            let (is_broken, left) = (broken.clone(), failures_left.clone());
            bus.subscribe::<ThingHappened, _>(
                "kernel_subscriber.record",
                subscriber.db.clone(),
                move |conn, event, envelope| {
                    if is_broken.load(Ordering::SeqCst) {
                        return Err(HandlerError::Failed("subscriber is broken".into()));
                    }
                    if left.load(Ordering::SeqCst) > 0 {
                        left.fetch_sub(1, Ordering::SeqCst);
                        return Err(HandlerError::Failed("transient failure".into()));
                    }
                    diesel::sql_query(
                        "INSERT INTO effects (event_id, n, position) SELECT $1, $2, COUNT(*) FROM effects",
                    )
                    .bind::<Text, _>(envelope.id.to_string())
                    .bind::<BigInt, _>(event.n)
                    .execute(conn)?;
                    Ok(())
                },
            );
            World { emitter, subscriber, clock, outbox, bus, broken, failures_left }
        })
        .collect()
}

impl World {
    fn relay(&self, settings: RelaySettings) -> Relay {
        Relay::new(
            self.emitter.db.clone(),
            self.outbox.wake(),
            Arc::new(self.bus.clone()),
            self.clock.clone(),
            settings,
        )
    }

    fn fast_settings(&self) -> RelaySettings {
        RelaySettings {
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(1),
            },
            lease_ttl: Duration::from_secs(5),
            ..RelaySettings::default()
        }
    }

    fn emit(&self, n: i64) {
        let mut conn = self.emitter.db.conn().expect("conn");
        self.outbox
            .transaction(&mut conn, |conn| self.outbox.record(conn, &ThingHappened { n }).map(|_| ()))
            .expect("commit");
    }

    /// (n, position) of every effect, in position order.
    fn effects(&self) -> Vec<(i64, i64)> {
        #[derive(QueryableByName)]
        struct Effect {
            #[diesel(sql_type = BigInt)]
            n: i64,
            #[diesel(sql_type = BigInt)]
            position: i64,
        }
        let mut conn = self.subscriber.db.conn().expect("conn");
        diesel::sql_query("SELECT n, position FROM effects ORDER BY position")
            .load::<Effect>(&mut conn)
            .expect("effects")
            .into_iter()
            .map(|e| (e.n, e.position))
            .collect()
    }

    fn label(&self) -> &'static str {
        self.emitter.label()
    }
}

#[test]
fn a_rolled_back_change_publishes_nothing() {
    for world in worlds() {
        let mut conn = world.emitter.db.conn().expect("conn");
        let result: Result<(), diesel::result::Error> = world.outbox.transaction(&mut conn, |conn| {
            world.outbox.record(conn, &ThingHappened { n: 1 })?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(result.is_err());
        let report = world.relay(world.fast_settings()).run_once().expect("pass");
        assert_eq!(report.fanned_out, 0);
        assert!(world.effects().is_empty(), "{}", world.label());
        assert!(admin::recorded_events(&mut conn).expect("rows").is_empty());
    }
}

#[test]
fn a_committed_event_survives_a_relay_that_died() {
    for world in worlds() {
        let settings = world.fast_settings();
        // A relay takes the lease, then its process dies before the commit is delivered.
        let dead = world.relay(settings);
        assert!(dead.run_once().expect("pass").leader);
        world.emit(7);
        drop(dead);

        let successor = world.relay(settings);
        assert!(!successor.run_once().expect("pass").leader, "the lease is still the dead relay's");
        assert!(world.effects().is_empty());
        world.clock.advance(chrono::Duration::seconds(6));
        let report = successor.run_once().expect("pass");
        assert!(report.leader && report.delivered == 1, "{report:?}");
        assert_eq!(world.effects(), vec![(7, 0)], "{}", world.label());
    }
}

#[test]
fn a_subscriber_that_fails_twice_then_succeeds_applies_once() {
    for world in worlds() {
        world.failures_left.store(2, Ordering::SeqCst);
        world.emit(1);
        let relay = world.relay(world.fast_settings());
        let first = relay.run_once().expect("pass");
        assert_eq!((first.delivered, first.failed), (0, 1));
        // Not due yet: the backoff holds it.
        assert_eq!(relay.run_once().expect("pass").failed, 0);
        world.clock.advance(chrono::Duration::milliseconds(100));
        assert_eq!(relay.run_once().expect("pass").failed, 1);
        world.clock.advance(chrono::Duration::milliseconds(200));
        assert_eq!(relay.run_once().expect("pass").delivered, 1);
        assert_eq!(world.effects(), vec![(1, 0)], "{}", world.label());
        assert_eq!(relay.metrics().failed(), 2);
        assert_eq!(relay.metrics().delivered(), 1);
    }
}

#[test]
fn a_subscriber_that_always_fails_is_dead_lettered_then_replayed_once() {
    for world in worlds() {
        world.broken.store(true, Ordering::SeqCst);
        world.emit(1);
        world.emit(2);
        let relay = world.relay(world.fast_settings());
        for _ in 0..10 {
            relay.run_once().expect("pass");
            world.clock.advance(chrono::Duration::seconds(2));
        }
        let mut conn = world.emitter.db.conn().expect("conn");
        let dead = admin::dead_letters(&mut conn).expect("dead letters");
        assert_eq!(dead.len(), 2, "{}: {dead:?}", world.label());
        assert_eq!(dead[0].attempts, 3);
        assert_eq!(dead[0].event_name, "kernel_emitter.ThingHappened.v1");
        assert_eq!(dead[0].last_error.as_deref(), Some("subscriber is broken"));
        assert!(world.effects().is_empty());

        world.broken.store(false, Ordering::SeqCst);
        assert_eq!(admin::replay(&mut conn, &dead[1].event_id, world.clock.now()).expect("replay"), 1);
        assert_eq!(admin::replay(&mut conn, "no-such-event", world.clock.now()).expect("replay"), 0);
        relay.run_once().expect("pass");
        relay.run_once().expect("pass");
        assert_eq!(world.effects(), vec![(2, 0)]);
        assert_eq!(admin::dead_letters(&mut conn).expect("dead").len(), 1);
        // Replaying a delivered event does nothing.
        assert_eq!(admin::replay(&mut conn, &dead[1].event_id, world.clock.now()).expect("replay"), 0);
    }
}

#[test]
fn the_same_event_delivered_twice_applies_once() {
    for world in worlds() {
        world.emit(5);
        let relay = world.relay(world.fast_settings());
        relay.run_once().expect("pass");
        // As if the relay died after the handler committed but before it
        // marked the delivery done: the delivery runs again.
        world
            .emitter
            .db
            .conn()
            .expect("conn")
            .batch_execute("UPDATE outbox_deliveries SET status = 'pending'")
            .expect("reset");
        assert_eq!(relay.run_once().expect("pass").delivered, 1);
        assert_eq!(world.effects(), vec![(5, 0)], "{}", world.label());
    }
}

#[test]
fn events_reach_a_subscriber_in_emission_order() {
    for world in worlds() {
        for n in 0..40 {
            world.emit(n);
        }
        let relay = world.relay(RelaySettings { batch_size: 7, ..world.fast_settings() });
        while relay.run_once().expect("pass").progressed() {}
        let effects = world.effects();
        assert_eq!(effects.len(), 40);
        assert!(effects.iter().all(|(n, position)| n == position), "{}: {effects:?}", world.label());
    }
}

/// Two relays over one outbox, each in its own thread: with the lease, or
/// with a lease that expires at once so both deliver concurrently.
#[test]
fn racing_relays_apply_every_event_exactly_once() {
    for lease_ttl in [Duration::from_secs(5), Duration::ZERO] {
        for world in worlds() {
            for n in 0..60 {
                world.emit(n);
            }
            let settings = RelaySettings { batch_size: 5, lease_ttl, ..world.fast_settings() };
            let relays = [world.relay(settings), world.relay(settings)];
            let world = &world;
            std::thread::scope(|scope| {
                for relay in &relays {
                    scope.spawn(move || {
                        let deadline = Instant::now() + Duration::from_secs(60);
                        while world.effects().len() < 60 && Instant::now() < deadline {
                            let report = relay.run_once().expect("pass");
                            if lease_ttl.is_zero() {
                                // Keep the zero-length leases expiring so both relays lead.
                                world.clock.advance(chrono::Duration::milliseconds(1));
                            } else if !report.progressed() {
                                std::thread::sleep(Duration::from_millis(2));
                            }
                        }
                    });
                }
            });
            let relay = world.relay(settings);
            world.clock.advance(chrono::Duration::seconds(10));
            while relay.run_once().expect("pass").progressed() {}
            let mut seen: Vec<i64> = world.effects().into_iter().map(|(n, _)| n).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..60).collect::<Vec<_>>(), "{} lease {lease_ttl:?}", world.label());
        }
    }
}

#[test]
fn a_running_relay_wakes_on_commit_and_sweeps_up_leftovers() {
    for world in worlds() {
        // A sweep interval far longer than the test: only the wake-up can
        // explain a prompt delivery.
        let handle =
            world.relay(RelaySettings { sweep_interval: Duration::from_secs(600), ..world.fast_settings() }).spawn();
        std::thread::sleep(Duration::from_millis(50));
        world.emit(1);
        wait_for(|| world.effects().len() == 1, &format!("{}: woken delivery", world.label()));
        handle.stop();

        // A row committed with no relay running (a crash right after commit)
        // goes out at the first sweep of the next relay.
        let mut conn = world.emitter.db.conn().expect("conn");
        kernel::db::write_transaction(&mut conn, |conn| world.outbox.record(conn, &ThingHappened { n: 2 }).map(|_| ()))
            .expect("commit without waking anyone");
        let handle =
            world.relay(RelaySettings { sweep_interval: Duration::from_millis(20), ..world.fast_settings() }).spawn();
        wait_for(|| world.effects().len() == 2, &format!("{}: swept delivery", world.label()));
        // The delivery is marked (and counted) after the handler commits;
        // stopping drains that.
        let metrics = handle.metrics();
        handle.stop();
        assert_eq!(metrics.delivered(), 1);
        let mut conn = world.emitter.db.conn().expect("conn");
        assert_eq!(admin::oldest_pending_age(&mut conn, world.clock.now()).expect("age"), None);
    }
}

fn wait_for(condition: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_oldest_pending_age_tracks_undelivered_events() {
    for world in worlds() {
        let mut conn = world.emitter.db.conn().expect("conn");
        assert_eq!(admin::oldest_pending_age(&mut conn, world.clock.now()).expect("age"), None);
        world.broken.store(true, Ordering::SeqCst);
        world.emit(1);
        world.clock.advance(chrono::Duration::seconds(30));
        let age = admin::oldest_pending_age(&mut conn, world.clock.now()).expect("age").expect("pending");
        assert_eq!(age.num_seconds(), 30);
        world.relay(world.fast_settings()).run_once().expect("pass");
        // Fanned out but failing: still pending.
        assert!(admin::oldest_pending_age(&mut conn, world.clock.now()).expect("age").is_some(), "{}", world.label());
    }
}

#[test]
fn events_without_subscribers_are_fanned_out_and_done() {
    for world in worlds() {
        let lonely = EventBus::new();
        world.emit(1);
        let relay = Relay::new(
            world.emitter.db.clone(),
            world.outbox.wake(),
            Arc::new(lonely.clone()),
            world.clock.clone(),
            world.fast_settings(),
        );
        assert_eq!(relay.run_once().expect("pass").fanned_out, 1);
        assert!(lonely.subscribers_of("kernel_emitter.ThingHappened.v1").is_empty());
        let mut conn = world.emitter.db.conn().expect("conn");
        assert_eq!(admin::oldest_pending_age(&mut conn, world.clock.now()).expect("age"), None);
    }
}
