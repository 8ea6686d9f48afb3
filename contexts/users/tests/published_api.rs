//! The in-process implementation of the published `UsersApi`, as another
//! context would use it.

use chrono::Utc;
use kernel::UserId;
use kernel::auth::{AuthError, Authenticator};
use kernel::clock::ManualClock;
use kernel::events::Outbox;
use kernel::mail::MockMailer;
use kernel::testing::test_databases;
use std::sync::Arc;
use users::domain::{DisplayName, Email, NewPassword};
use users::passwords::{HashingProfile, PasswordHasher};
use users::service::{Registration, UsersPorts};
use users::tokens::{SigningKey, TokenIssuer};
use users::{InProcessUsersApi, UsersService, UsersSettings};
use users_api::UsersApi;

#[test]
fn other_contexts_authenticate_and_read_summaries_through_the_trait() {
    for db in test_databases(users::CONTEXT, users::migrate) {
        let settings = UsersSettings::default();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let service = Arc::new(UsersService::new(
            UsersPorts {
                db: db.db.clone(),
                clock: clock.clone(),
                hasher: PasswordHasher::new(HashingProfile::InsecureTestOnly),
                tokens: TokenIssuer::new(&SigningKey::generate(), settings.access_token_ttl),
                mailer: Arc::new(MockMailer::new()),
                outbox: Outbox::new(users::CONTEXT, clock),
            },
            settings,
        ));
        let account = service
            .register(Registration {
                email: Email::parse("summary@example.com").expect("email"),
                password: NewPassword::parse("correct horse battery", None).expect("password"),
                display_name: DisplayName::parse("Summary Person").expect("name"),
            })
            .expect("register");
        let issued = service.login("summary@example.com", "correct horse battery", None).expect("login");
        let api: Arc<dyn UsersApi> = Arc::new(InProcessUsersApi::new(service.clone()));
        let authenticator: Arc<dyn Authenticator> = Arc::new(InProcessUsersApi::new(service.clone()));

        actix_web::rt::System::new().block_on(async {
            let principal = api.authenticate(&issued.access_token).await.expect("authenticated");
            assert_eq!(principal.user_id, account.id);
            assert_eq!(authenticator.authenticate(&issued.access_token).await, Ok(principal));
            assert_eq!(api.authenticate("garbage").await, Err(AuthError::InvalidToken));

            let summary = api.user_summary(account.id).await.expect("answer").expect("exists");
            assert_eq!(summary.display_name, "Summary Person");
            assert_eq!(summary.email.as_deref(), Some("summary@example.com"));
            assert!(summary.active && !summary.email_verified);
            assert_eq!(api.user_summary(UserId::new()).await.expect("answer"), None);
        });

        service.erase_account(account.id).expect("erase");
        actix_web::rt::System::new().block_on(async {
            let summary = api.user_summary(account.id).await.expect("answer").expect("kept by id");
            assert_eq!(summary.email, None, "{}", db.label());
            assert!(!summary.active);
        });
    }
}
