//! The kernel's database plumbing against real databases: SQLite always,
//! PostgreSQL too when TEST_DATABASE_URL is set.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use kernel::db::{ContextDatabase, DatabaseSettings, DbConn, DbError, Location, provision_postgres, write_transaction};
use kernel::testing::{ScratchPostgres, TEST_DATABASE_URL, test_databases};
use std::time::Duration;

fn counters(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    conn.batch_execute("CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, value BIGINT NOT NULL)")?;
    Ok(vec!["counters".to_owned()])
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

fn read(conn: &mut DbConn) -> i64 {
    diesel::sql_query("SELECT value FROM counters WHERE name = 'hits'")
        .get_result::<Value>(conn)
        .map(|row| row.value)
        .unwrap_or(0)
}

#[test]
fn read_modify_write_transactions_do_not_lose_updates_under_concurrency() {
    for test_db in test_databases("kernel_test", counters) {
        let db = test_db.db.clone();
        db.conn().expect("conn").batch_execute("INSERT INTO counters VALUES ('hits', 0)").expect("seed");
        std::thread::scope(|scope| {
            for _ in 0..8 {
                let db = db.clone();
                scope.spawn(move || {
                    for _ in 0..25 {
                        let mut conn = db.conn().expect("conn");
                        write_transaction(&mut conn, |conn| {
                            let current = read(conn);
                            // On PostgreSQL the row lock makes concurrent writers wait.
                            let lock = if conn.backend() == kernel::db::Backend::Postgres { " FOR UPDATE" } else { "" };
                            let locked: i64 =
                                diesel::sql_query(format!("SELECT value FROM counters WHERE name = 'hits'{lock}"))
                                    .get_result::<Value>(conn)?
                                    .value;
                            debug_assert!(locked >= current);
                            diesel::sql_query("UPDATE counters SET value = $1 WHERE name = 'hits'")
                                .bind::<BigInt, _>(locked + 1)
                                .execute(conn)?;
                            Ok::<_, diesel::result::Error>(())
                        })
                        .expect("transaction");
                    }
                });
            }
        });
        let mut conn = db.conn().expect("conn");
        assert_eq!(read(&mut conn), 200, "{}", test_db.label());
    }
}

#[test]
fn a_failed_write_transaction_rolls_back_and_nests_savepoints() {
    for test_db in test_databases("kernel_test", counters) {
        let mut conn = test_db.db.conn().expect("conn");
        let result: Result<(), diesel::result::Error> = write_transaction(&mut conn, |conn| {
            conn.batch_execute("INSERT INTO counters VALUES ('a', 1)")?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(result.is_err());
        write_transaction(&mut conn, |conn| {
            conn.batch_execute("INSERT INTO counters VALUES ('b', 1)")?;
            // An inner failure rolls back only its savepoint.
            let inner: Result<(), diesel::result::Error> = conn.transaction(|conn| {
                conn.batch_execute("INSERT INTO counters VALUES ('c', 1)")?;
                Err(diesel::result::Error::RollbackTransaction)
            });
            assert!(inner.is_err());
            Ok::<_, diesel::result::Error>(())
        })
        .expect("outer commits");
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let names: Vec<String> = diesel::sql_query("SELECT name FROM counters ORDER BY name")
            .load::<Name>(&mut conn)
            .expect("names")
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(names, vec!["b"], "{}", test_db.label());
    }
}

#[test]
fn sqlite_connections_get_wal_and_foreign_keys() {
    let test_db = kernel::testing::TestDatabase::sqlite("kernel_test", counters);
    let mut conn = test_db.db.conn().expect("conn");
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    #[derive(QueryableByName)]
    struct Keys {
        #[diesel(sql_type = BigInt)]
        foreign_keys: i64,
    }
    let mode = diesel::sql_query("PRAGMA journal_mode").get_result::<Mode>(&mut conn).expect("mode");
    assert_eq!(mode.journal_mode, "wal");
    let keys = diesel::sql_query("PRAGMA foreign_keys").get_result::<Keys>(&mut conn).expect("keys");
    assert_eq!(keys.foreign_keys, 1);
}

#[test]
fn a_database_that_is_down_is_reported_not_hidden() {
    let db = ContextDatabase::open(DatabaseSettings {
        context: "users",
        location: Location::parse("postgres://nobody@127.0.0.1:1/none").expect("url"),
        role: None,
        max_connections: 1,
        acquire_timeout: Duration::from_millis(200),
    })
    .expect("opening does not connect");
    let error = db.ping_within(Duration::from_millis(200)).expect_err("down");
    assert!(error.to_string().contains("users"), "{error}");
}

/// One context's role cannot read another context's schema.
#[test]
fn context_roles_are_confined_to_their_own_schema() {
    let Ok(admin_url) = std::env::var(TEST_DATABASE_URL) else {
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL isolation not checked in this run");
        return;
    };
    let scratch = ScratchPostgres::create(&admin_url);
    let role = |context: &str| format!("{}_{context}", scratch.role_prefix());
    for context in ["users", "catalog"] {
        provision_postgres(scratch.url(), context, Some(&role(context))).expect("provision");
    }
    let open = |context: &'static str| {
        ContextDatabase::open(DatabaseSettings {
            context,
            location: Location::Postgres { url: scratch.url().to_owned() },
            role: Some(role(context)),
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
        })
        .expect("open")
    };
    let users = open("users");
    let catalog = open("catalog");
    catalog
        .conn()
        .expect("catalog conn")
        .batch_execute("CREATE TABLE products (id TEXT PRIMARY KEY); INSERT INTO products VALUES ('p1');")
        .expect("catalog owns its schema");
    users.conn().expect("users conn").batch_execute("CREATE TABLE accounts (id TEXT PRIMARY KEY)").expect("own table");

    // Unqualified names resolve to the context's own schema only.
    let unqualified = users.conn().expect("conn").batch_execute("SELECT * FROM products");
    assert!(unqualified.is_err());
    let qualified = users.conn().expect("conn").batch_execute("SELECT * FROM catalog.products");
    let message = qualified.expect_err("users must not read catalog").to_string();
    assert!(message.contains("permission denied for schema catalog"), "{message}");
    let write = catalog.conn().expect("conn").batch_execute("INSERT INTO users.accounts VALUES ('x')");
    assert!(write.expect_err("catalog must not write users").to_string().contains("permission denied"));
    let escape = users.conn().expect("conn").batch_execute("CREATE TABLE public.sneaky (id TEXT)");
    assert!(escape.is_err(), "a context role cannot create tables outside its schema");
}
