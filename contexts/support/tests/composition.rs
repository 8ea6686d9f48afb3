//! The agent's ticket view when a neighbouring context fails: a partial
//! answer naming what is missing, never a 500. Users and orders are mocked
//! through their published traits.

use actix_web::{App, test, web};
use kernel::auth::{AuthError, Authenticator, Principal, Role};
use kernel::clock::ManualClock;
use kernel::events::Outbox;
use kernel::testing::TestDatabase;
use kernel::{Currency, Money, OrderId, SessionId, UserId};
use orders_api::{MockOrdersApi, OrderSummary};
use std::sync::Arc;
use support::domain::Kind;
use support::http::Neighbours;
use support::service::SupportService;
use users_api::{MockUsersApi, UsersApiError};

/// Every bearer token is this agent.
struct AgentAuthenticator(UserId);

#[async_trait::async_trait]
impl Authenticator for AgentAuthenticator {
    async fn authenticate(&self, _token: &str) -> Result<Principal, AuthError> {
        Ok(Principal { user_id: self.0, session_id: SessionId::new(), roles: vec![Role::SupportAgent] })
    }
}

#[actix_web::test]
async fn a_failing_users_context_gives_a_partial_answer() {
    let db = TestDatabase::sqlite(support::CONTEXT, support::migrate);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let service = Arc::new(SupportService::new(db.db.clone(), clock.clone(), Outbox::new(support::CONTEXT, clock)));
    let (customer, order) = (UserId::new(), OrderId::new());
    let ticket = {
        let service = service.clone();
        web::block(move || service.open(customer, Kind::Complaint, "Broken".into(), "It broke.".into(), Some(order)))
            .await
            .expect("blocking")
            .expect("open")
    };

    let mut users = MockUsersApi::new();
    users.expect_user_summary().returning(|_| Err(UsersApiError::Unavailable("users database is down".into())));
    let mut orders = MockOrdersApi::new();
    orders.expect_order_summary().returning(move |id| {
        Ok(Some(OrderSummary {
            order_id: id,
            user_id: customer,
            status: "delivered".into(),
            lines: vec![],
            total: Money::new(999, Currency::parse("EUR").expect("EUR")),
            captured: Money::new(999, Currency::parse("EUR").expect("EUR")),
            refunded: Money::new(0, Currency::parse("EUR").expect("EUR")),
            delivered_at: None,
        }))
    });
    let authenticator: Arc<dyn Authenticator> = Arc::new(AgentAuthenticator(UserId::new()));
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(service))
            .app_data(web::Data::new(Neighbours { users: Arc::new(users), orders: Arc::new(orders) }))
            .app_data(web::Data::new(authenticator))
            .configure(support::http::configure),
    )
    .await;
    let request = test::TestRequest::get()
        .uri(&format!("/api/v1/support/tickets/{}", ticket.row.id))
        .insert_header(("Authorization", "Bearer agent"))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["customer"], serde_json::Value::Null);
    assert_eq!(body["order"]["status"], "delivered");
    let unavailable = body["unavailable"].as_array().expect("list");
    assert_eq!(unavailable.len(), 1);
    assert!(unavailable[0].as_str().unwrap_or("").starts_with("customer:"), "{body}");
}

#[actix_web::test]
async fn an_order_that_is_not_the_callers_is_not_found() {
    let db = TestDatabase::sqlite(support::CONTEXT, support::migrate);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let service = Arc::new(SupportService::new(db.db.clone(), clock.clone(), Outbox::new(support::CONTEXT, clock)));
    let caller = UserId::new();
    let mut orders = MockOrdersApi::new();
    // The order exists but belongs to someone else.
    orders.expect_order_summary().returning(|id| {
        Ok(Some(OrderSummary {
            order_id: id,
            user_id: UserId::new(),
            status: "delivered".into(),
            lines: vec![],
            total: Money::new(1, Currency::parse("EUR").expect("EUR")),
            captured: Money::new(1, Currency::parse("EUR").expect("EUR")),
            refunded: Money::new(0, Currency::parse("EUR").expect("EUR")),
            delivered_at: None,
        }))
    });
    let authenticator: Arc<dyn Authenticator> = Arc::new(Customer(caller));
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(service))
            .app_data(web::Data::new(Neighbours { users: Arc::new(MockUsersApi::new()), orders: Arc::new(orders) }))
            .app_data(web::Data::new(authenticator))
            .app_data(web::Data::new(support::http::ReturnWindow(chrono::Duration::days(30))))
            .configure(support::http::configure),
    )
    .await;
    let request = test::TestRequest::post()
        .uri("/api/v1/support/tickets")
        .insert_header(("Authorization", "Bearer customer"))
        .set_json(serde_json::json!({"kind": "complaint", "subject": "x", "body": "y", "order_id": OrderId::new()}))
        .to_request();
    assert_eq!(test::call_service(&app, request).await.status(), 404);
}

/// Every bearer token is this customer.
struct Customer(UserId);

#[async_trait::async_trait]
impl Authenticator for Customer {
    async fn authenticate(&self, _token: &str) -> Result<Principal, AuthError> {
        Ok(Principal { user_id: self.0, session_id: SessionId::new(), roles: vec![Role::Customer] })
    }
}
