//! The users context's use cases and repository on real databases (SQLite
//! always, PostgreSQL too with TEST_DATABASE_URL), with the mail port mocked.

use chrono::{Duration, Utc};
use kernel::auth::{AuthError, Role};
use kernel::clock::ManualClock;
use kernel::events::Outbox;
use kernel::mail::{MailError, MailMessage, MockMailer};
use kernel::testing::{TestDatabase, test_databases};
use std::sync::{Arc, Mutex};
use users::domain::{DisplayName, Email, NewPassword};
use users::passwords::{HashingProfile, PasswordHasher};
use users::service::{ProfileChanges, Registration, UsersPorts};
use users::tokens::{SigningKey, TokenIssuer};
use users::{UsersError, UsersService, UsersSettings};

const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    service: Arc<UsersService>,
    clock: Arc<ManualClock>,
    mails: Arc<Mutex<Vec<MailMessage>>>,
    label: &'static str,
    db: TestDatabase,
}

/// A mailer mock that records what it was asked to send.
fn recording_mailer(mails: Arc<Mutex<Vec<MailMessage>>>) -> MockMailer {
    let mut mailer = MockMailer::new();
    mailer.expect_send().returning(move |message| {
        mails.lock().expect("mails").push(message.clone());
        Ok(())
    });
    mailer
}

fn fixtures() -> Vec<Fixture> {
    test_databases(users::CONTEXT, users::migrate)
        .into_iter()
        .map(|db| {
            let mails = Arc::new(Mutex::new(Vec::new()));
            fixture_with(db, Arc::new(recording_mailer(mails.clone())), mails)
        })
        .collect()
}

fn fixture_with(
    db: TestDatabase,
    mailer: Arc<dyn kernel::mail::Mailer>,
    mails: Arc<Mutex<Vec<MailMessage>>>,
) -> Fixture {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let settings = UsersSettings::default();
    let service = Arc::new(UsersService::new(
        UsersPorts {
            db: db.db.clone(),
            clock: clock.clone(),
            hasher: PasswordHasher::new(HashingProfile::InsecureTestOnly),
            tokens: TokenIssuer::new(&SigningKey::generate(), settings.access_token_ttl),
            mailer,
            outbox: Outbox::new(users::CONTEXT, clock.clone()),
        },
        settings,
    ));
    Fixture { service, clock, mails, label: db.label(), db }
}

fn registration(email: &str) -> Registration {
    Registration {
        email: Email::parse(email).expect("email"),
        password: NewPassword::parse(PASSWORD, None).expect("password"),
        display_name: DisplayName::parse("Ana").expect("name"),
    }
}

fn token_in(message: &MailMessage) -> String {
    message.text.lines().find_map(|line| line.strip_prefix("    ").map(str::trim)).expect("token line").to_owned()
}

#[test]
fn registered_accounts_authenticate_with_current_roles() {
    for f in fixtures() {
        let account = f.service.register(registration("Ana@Example.com")).expect("register");
        assert_eq!(account.email.as_str(), "ana@example.com");
        assert_eq!(account.roles, vec![Role::Customer]);
        let issued = f.service.login("ANA@example.com ", PASSWORD, Some("test agent".into())).expect("login");
        let principal = f.service.authenticate(&issued.access_token).expect("authenticate");
        assert_eq!(principal.user_id, account.id);
        assert_eq!(principal.session_id, issued.session_id);

        // Roles are read per request, so a promotion applies at once.
        let admin = f.service.create_account(registration("root@example.com"), &[Role::Admin]).expect("admin");
        let admin_login = f.service.login("root@example.com", PASSWORD, None).expect("login");
        let admin_principal = f.service.authenticate(&admin_login.access_token).expect("auth");
        f.service
            .administer(&admin_principal, account.id, Some(vec![Role::Customer, Role::SupportAgent]), None)
            .expect("promote");
        let principal = f.service.authenticate(&issued.access_token).expect("authenticate");
        assert_eq!(principal.roles, vec![Role::Customer, Role::SupportAgent], "{}", f.label);
        assert!(matches!(f.service.register(registration("ana@EXAMPLE.com")), Err(UsersError::EmailTaken)));
        let _ = admin;
    }
}

#[test]
fn concurrent_refreshes_of_one_token_rotate_once_and_end_the_session() {
    for f in fixtures() {
        f.service.register(registration("race@example.com")).expect("register");
        let issued = f.service.login("race@example.com", PASSWORD, None).expect("login");
        let results: Vec<Result<_, UsersError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let service = f.service.clone();
                    let token = issued.refresh_token.clone();
                    scope.spawn(move || service.refresh(&token))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let rotated = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(rotated, 1, "{}: exactly one rotation", f.label);
        assert!(
            results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, UsersError::RefreshTokenReused)),
            "{}",
            f.label
        );
        // The replay was detected, so even the winner's new pair is dead.
        let winner = results.into_iter().find_map(Result::ok).expect("winner");
        assert_eq!(f.service.authenticate(&winner.access_token), Err(AuthError::SessionEnded), "{}", f.label);
    }
}

#[test]
fn sessions_expire_and_refresh_slides_them() {
    for f in fixtures() {
        f.service.register(registration("slide@example.com")).expect("register");
        let issued = f.service.login("slide@example.com", PASSWORD, None).expect("login");
        f.clock.advance(Duration::days(20));
        let refreshed = f.service.refresh(&issued.refresh_token).expect("within 30 days");
        f.clock.advance(Duration::days(20));
        // 40 days after login, but 20 after the last refresh.
        let again = f.service.refresh(&refreshed.refresh_token).expect("slid");
        f.clock.advance(Duration::days(31));
        assert!(matches!(f.service.refresh(&again.refresh_token), Err(UsersError::InvalidRefreshToken)), "{}", f.label);
        assert_eq!(f.service.sessions(again.user_id).expect("sessions").len(), 0);
    }
}

#[test]
fn verification_mail_carries_a_single_use_token_for_that_address() {
    for f in fixtures() {
        let account = f.service.register(registration("verify@example.com")).expect("register");
        f.service.request_verification(account.id).expect("request");
        f.service.request_verification(account.id).expect("request again");
        let mails = f.mails.lock().expect("mails").clone();
        assert_eq!(mails.len(), 2);
        assert_eq!(mails[0].to, "verify@example.com");
        assert!(!mails[0].text.contains(PASSWORD));
        // Only the newest token works.
        assert!(matches!(f.service.verify_email(&token_in(&mails[0])), Err(UsersError::InvalidOneTimeToken)));
        f.service.verify_email(&token_in(&mails[1])).expect("verify");
        assert!(f.service.account(account.id).expect("account").email_verified_at.is_some(), "{}", f.label);
        assert!(matches!(f.service.request_verification(account.id), Err(UsersError::AlreadyVerified)));
    }
}

#[test]
fn verification_tokens_expire() {
    for f in fixtures() {
        let account = f.service.register(registration("late@example.com")).expect("register");
        f.service.request_verification(account.id).expect("request");
        let token = token_in(&f.mails.lock().expect("mails")[0]);
        f.clock.advance(Duration::hours(49));
        assert!(matches!(f.service.verify_email(&token), Err(UsersError::InvalidOneTimeToken)), "{}", f.label);
    }
}

#[test]
fn a_failing_mailer_is_reported_as_unavailable() {
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Err(MailError::Delivery("connection refused".into())));
    let f = fixture_with(
        TestDatabase::sqlite(users::CONTEXT, users::migrate),
        Arc::new(mailer),
        Arc::new(Mutex::new(Vec::new())),
    );
    let account = f.service.register(registration("nomail@example.com")).expect("register");
    assert!(matches!(f.service.request_verification(account.id), Err(UsersError::MailUnavailable(_))));
}

#[test]
fn password_reset_for_an_unknown_or_inactive_account_sends_nothing() {
    for f in fixtures() {
        f.service.request_password_reset("nobody@example.com").expect("silently accepted");
        f.service.request_password_reset("not an email").expect("silently accepted");
        let account = f.service.register(registration("gone@example.com")).expect("register");
        f.service.erase_account(account.id).expect("erase");
        f.service.request_password_reset("gone@example.com").expect("silently accepted");
        assert!(f.mails.lock().expect("mails").is_empty(), "{}", f.label);
    }
}

#[test]
fn erasing_keeps_the_id_and_nothing_personal() {
    for f in fixtures() {
        let account = f.service.register(registration("erase.me@example.com")).expect("register");
        f.service
            .update_profile(account.id, ProfileChanges { marketing_opt_in: Some(true), ..ProfileChanges::default() })
            .expect("profile");
        f.service.erase_account(account.id).expect("erase");
        let erased = f.service.account(account.id).expect("still there by id");
        assert!(!erased.active);
        assert!(erased.erased_at.is_some());
        assert!(erased.email.as_str().ends_with("@erased.invalid"), "{}", erased.email);
        assert_eq!(erased.display_name.as_str(), "");
        assert!(!erased.preferences.marketing_opt_in);
        assert!(matches!(f.service.login("erase.me@example.com", PASSWORD, None), Err(UsersError::InvalidCredentials)));

        let admin = f.service.create_account(registration("boss@example.com"), &[Role::Admin]).expect("admin");
        let login = f.service.login("boss@example.com", PASSWORD, None).expect("login");
        let principal = f.service.authenticate(&login.access_token).expect("auth");
        assert!(matches!(
            f.service.administer(&principal, account.id, None, Some(true)),
            Err(UsersError::Conflict("account_erased", _))
        ));
        let _ = admin;
    }
}

#[test]
fn lockout_counts_failures_per_email_within_the_window() {
    for f in fixtures() {
        f.service.register(registration("lock@example.com")).expect("register");
        for _ in 0..5 {
            assert!(matches!(
                f.service.login("lock@example.com", "nope nope nope", None),
                Err(UsersError::InvalidCredentials)
            ));
        }
        match f.service.login("lock@example.com", PASSWORD, None) {
            Err(UsersError::LockedOut { retry_after_seconds }) => assert_eq!(retry_after_seconds, 900, "{}", f.label),
            other => panic!("{}: expected lockout, got {other:?}", f.label),
        }
        // Unknown emails are throttled the same way: the lockout reveals nothing.
        for _ in 0..5 {
            let _ = f.service.login("ghost@example.com", "nope nope nope", None);
        }
        assert!(matches!(f.service.login("ghost@example.com", "x", None), Err(UsersError::LockedOut { .. })));
        f.clock.advance(Duration::minutes(15));
        f.service.login("lock@example.com", PASSWORD, None).expect("unlocked");
    }
}

#[test]
fn every_change_publishes_its_event_in_the_same_transaction() {
    use kernel::events::{EventBus, Relay, RelaySettings, admin};
    use users_api::events::{DeactivationReason, UserDeactivated, UserErased};
    for f in fixtures() {
        let account = f.service.register(registration("events@example.com")).expect("register");
        assert!(matches!(f.service.register(registration("events@example.com")), Err(UsersError::EmailTaken)));
        f.service
            .update_profile(account.id, ProfileChanges { marketing_opt_in: Some(true), ..ProfileChanges::default() })
            .expect("profile");
        f.service.create_account(registration("chief@example.com"), &[Role::Admin]).expect("admin");
        let login = f.service.login("chief@example.com", PASSWORD, None).expect("login");
        let chief = f.service.authenticate(&login.access_token).expect("auth");
        f.service.administer(&chief, account.id, None, Some(false)).expect("deactivate");
        f.service.administer(&chief, account.id, None, Some(true)).expect("reactivate");
        f.service.erase_account(account.id).expect("erase");

        let mut conn = f.db.db.conn().expect("conn");
        let names: Vec<String> =
            admin::recorded_events(&mut conn).expect("outbox").into_iter().map(|(_, name)| name).collect();
        assert_eq!(
            names,
            vec![
                "users.UserRegistered.v1",
                "users.UserProfileUpdated.v1",
                "users.UserRegistered.v1",
                "users.UserDeactivated.v1",
                "users.UserDeactivated.v1",
                "users.UserErased.v1",
            ],
            "{}: the failed duplicate sign-up published nothing",
            f.label
        );

        // A subscriber gets the typed events.
        let bus = EventBus::new();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (on_deactivated, on_erased) = (seen.clone(), seen.clone());
        bus.subscribe::<UserDeactivated, _>("test.deactivations", f.db.db.clone(), move |_, event, _| {
            let reason = match event.reason {
                DeactivationReason::Administrator => "administrator",
                DeactivationReason::Erased => "erased",
            };
            on_deactivated.lock().expect("seen").push(format!("deactivated:{reason}"));
            Ok(())
        });
        bus.subscribe::<UserErased, _>("test.erasures", f.db.db.clone(), move |_, event: UserErased, _| {
            assert_eq!(event.user_id, account.id);
            on_erased.lock().expect("seen").push("erased".to_owned());
            Ok(())
        });
        let relay = Relay::new(
            f.db.db.clone(),
            kernel::events::Wake::new(),
            Arc::new(bus),
            f.clock.clone(),
            RelaySettings::default(),
        );
        while relay.run_once().expect("pass").progressed() {}
        assert_eq!(
            *seen.lock().expect("seen"),
            vec!["deactivated:administrator", "deactivated:erased", "erased"],
            "{}",
            f.label
        );
    }
}
