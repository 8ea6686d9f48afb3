//! Tickets and their messages.

use crate::domain::{Kind, PRIORITIES, Status};
use crate::schema::{ticket_messages, tickets};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use kernel::db::{ContextDatabase, DbError};
use kernel::events::Outbox;
use kernel::{Clock, OrderId, UserId};
use std::sync::Arc;
use support_api::events::{TicketOpened, TicketResolved};

#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    #[error("ticket not found")]
    NotFound,
    #[error("the ticket is {from}; it cannot become {to}")]
    IllegalTransition { from: String, to: String },
    #[error("the ticket is closed")]
    Closed,
    #[error("{0}")]
    NotRated(&'static str),
    #[error(transparent)]
    Unavailable(DbError),
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for SupportError {
    fn from(error: diesel::result::Error) -> Self {
        SupportError::Internal(error.to_string())
    }
}

impl From<DbError> for SupportError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Query(error) => SupportError::Internal(error.to_string()),
            other => SupportError::Unavailable(other),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct TicketRow {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub subject: String,
    pub order_id: Option<String>,
    pub status: String,
    pub priority: String,
    pub assignee_id: Option<String>,
    pub needs_attention: bool,
    pub first_response_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub return_status: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ticket_messages)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct MessageRow {
    pub id: String,
    pub ticket_id: String,
    pub author_id: String,
    pub author: String,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

pub use kernel::db::from_db_time as utc;

/// Who is acting on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Customer(UserId),
    Agent(UserId),
    /// The shop itself: the return saga reporting back.
    System,
}

impl Actor {
    /// Who to record as the author: a user id, or `system`.
    fn author_id(&self) -> String {
        match self {
            Actor::Customer(id) | Actor::Agent(id) => id.to_string(),
            Actor::System => "system".to_owned(),
        }
    }

    fn author(&self) -> &'static str {
        match self {
            Actor::Customer(_) => "customer",
            Actor::Agent(_) => "agent",
            Actor::System => "system",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub row: TicketRow,
    /// Internal notes are left out for customers.
    pub messages: Vec<MessageRow>,
}

/// Agent queue filters.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    /// `Some(Some(agent))` = assigned to that agent; `Some(None)` = unassigned.
    pub assigned: Option<Option<UserId>>,
}

#[derive(Debug, Clone, Default)]
pub struct TicketChanges {
    pub status: Option<Status>,
    pub priority: Option<String>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<UserId>>,
}

pub struct SupportService {
    db: ContextDatabase,
    clock: Arc<dyn Clock>,
    outbox: Outbox,
}

impl SupportService {
    pub fn new(db: ContextDatabase, clock: Arc<dyn Clock>, outbox: Outbox) -> Self {
        Self { db, clock, outbox }
    }

    pub fn database(&self) -> &ContextDatabase {
        &self.db
    }

    fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    /// Opens a ticket with its first message. The order, if any, has been
    /// checked to be the customer's by the caller (through `OrdersApi`).
    pub fn open(
        &self,
        user: UserId,
        kind: Kind,
        subject: String,
        body: String,
        order: Option<OrderId>,
    ) -> Result<Ticket, SupportError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        let mut conn = self.db.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            diesel::insert_into(tickets::table)
                .values((
                    tickets::id.eq(&id),
                    tickets::user_id.eq(user.to_string()),
                    tickets::kind.eq(kind.as_str()),
                    tickets::subject.eq(&subject),
                    tickets::order_id.eq(order.map(|o| o.to_string())),
                    tickets::status.eq(Status::Open.as_str()),
                    tickets::priority.eq("normal"),
                    tickets::created_at.eq(now),
                    tickets::updated_at.eq(now),
                ))
                .execute(conn)?;
            self.insert_message(conn, &id, Actor::Customer(user), &body, false)?;
            self.outbox
                .record(conn, &TicketOpened { ticket_id: id.clone(), user_id: user, kind: kind.as_str().into() })?;
            Ok::<_, SupportError>(())
        })?;
        self.view(&id, Actor::Customer(user))
    }

    pub(crate) fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub(crate) fn post(
        &self,
        conn: &mut kernel::db::DbConn,
        ticket: &str,
        actor: Actor,
        body: &str,
        internal: bool,
    ) -> QueryResult<()> {
        self.insert_message(conn, ticket, actor, body, internal)
    }

    fn insert_message(
        &self,
        conn: &mut kernel::db::DbConn,
        ticket: &str,
        actor: Actor,
        body: &str,
        internal: bool,
    ) -> QueryResult<()> {
        diesel::insert_into(ticket_messages::table)
            .values((
                ticket_messages::id.eq(uuid::Uuid::now_v7().to_string()),
                ticket_messages::ticket_id.eq(ticket),
                ticket_messages::author_id.eq(actor.author_id()),
                ticket_messages::author.eq(actor.author()),
                ticket_messages::body.eq(body),
                ticket_messages::internal.eq(internal),
                ticket_messages::created_at.eq(self.now()),
            ))
            .execute(conn)
            .map(|_| ())
    }

    fn row(&self, conn: &mut kernel::db::DbConn, id: &str) -> Result<TicketRow, SupportError> {
        tickets::table.find(id).select(TicketRow::as_select()).first(conn).optional()?.ok_or(SupportError::NotFound)
    }

    /// A ticket as `actor` may see it: a customer only their own (else "not
    /// found") and without internal notes.
    pub fn view(&self, id: &str, actor: Actor) -> Result<Ticket, SupportError> {
        let mut conn = self.db.conn()?;
        let row = self.row(&mut conn, id)?;
        let mut query = ticket_messages::table
            .filter(ticket_messages::ticket_id.eq(id))
            .order(ticket_messages::id.asc())
            .select(MessageRow::as_select())
            .into_boxed();
        if let Actor::Customer(user) = actor {
            if row.user_id != user.to_string() {
                return Err(SupportError::NotFound);
            }
            query = query.filter(ticket_messages::internal.eq(false));
        }
        Ok(Ticket { messages: query.load(&mut conn)?, row })
    }

    /// A message on a ticket. A customer's reply reopens a resolved ticket;
    /// an agent's first public reply is the first response.
    pub fn reply(&self, id: &str, actor: Actor, body: &str, internal: bool) -> Result<Ticket, SupportError> {
        let now = self.now();
        let mut conn = self.db.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let row = self.row(conn, id)?;
            if let Actor::Customer(user) = actor
                && row.user_id != user.to_string()
            {
                return Err(SupportError::NotFound);
            }
            if row.status == Status::Closed.as_str() {
                return Err(SupportError::Closed);
            }
            let internal = internal && matches!(actor, Actor::Agent(_));
            self.insert_message(conn, id, actor, body, internal)?;
            match actor {
                Actor::Customer(_) if row.status == Status::Resolved.as_str() => {
                    diesel::update(tickets::table.find(id))
                        .set((
                            tickets::status.eq(Status::Open.as_str()),
                            tickets::resolved_at.eq(None::<NaiveDateTime>),
                        ))
                        .execute(conn)?;
                }
                Actor::Agent(_) if !internal && row.first_response_at.is_none() => {
                    diesel::update(tickets::table.find(id))
                        .set(tickets::first_response_at.eq(Some(now)))
                        .execute(conn)?;
                }
                _ => {}
            }
            diesel::update(tickets::table.find(id)).set(tickets::updated_at.eq(now)).execute(conn)?;
            Ok::<_, SupportError>(())
        })?;
        self.view(id, actor)
    }

    /// An agent changes status, priority or assignee.
    pub fn update(&self, id: &str, changes: TicketChanges) -> Result<TicketRow, SupportError> {
        let now = self.now();
        let mut conn = self.db.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let row = self.row(conn, id)?;
            if let Some(to) = changes.status {
                let from = Status::parse(&row.status).ok_or_else(|| SupportError::Internal("stored status".into()))?;
                if !from.can_become(to) {
                    return Err(SupportError::IllegalTransition { from: from.as_str().into(), to: to.as_str().into() });
                }
                if from != to {
                    let resolved_at =
                        (to == Status::Resolved).then_some(now).or(row.resolved_at.filter(|_| to == Status::Closed));
                    diesel::update(tickets::table.find(id))
                        .set((tickets::status.eq(to.as_str()), tickets::resolved_at.eq(resolved_at)))
                        .execute(conn)?;
                    if to == Status::Resolved {
                        let user =
                            UserId::parse(&row.user_id).map_err(|_| SupportError::Internal("stored user".into()))?;
                        self.outbox.record(conn, &TicketResolved { ticket_id: id.to_owned(), user_id: user })?;
                    }
                }
            }
            if let Some(priority) = &changes.priority {
                diesel::update(tickets::table.find(id)).set(tickets::priority.eq(priority)).execute(conn)?;
            }
            if let Some(assignee) = changes.assignee {
                diesel::update(tickets::table.find(id))
                    .set(tickets::assignee_id.eq(assignee.map(|a| a.to_string())))
                    .execute(conn)?;
            }
            diesel::update(tickets::table.find(id)).set(tickets::updated_at.eq(now)).execute(conn)?;
            self.row(conn, id)
        })
    }

    /// A customer's tickets, newest first.
    pub fn tickets_of(&self, user: UserId, before: Option<&str>, limit: i64) -> Result<Vec<TicketRow>, SupportError> {
        let mut conn = self.db.conn()?;
        let mut query = tickets::table
            .filter(tickets::user_id.eq(user.to_string()))
            .order(tickets::id.desc())
            .limit(limit)
            .select(TicketRow::as_select())
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(tickets::id.lt(before.to_owned()));
        }
        Ok(query.load(&mut conn)?)
    }

    /// The agents' queue, oldest first.
    pub fn queue(&self, filter: &QueueFilter, after: Option<&str>, limit: i64) -> Result<Vec<TicketRow>, SupportError> {
        let mut conn = self.db.conn()?;
        let mut query =
            tickets::table.order(tickets::id.asc()).limit(limit).select(TicketRow::as_select()).into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(tickets::status.eq(status.as_str()));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(tickets::kind.eq(kind.as_str()));
        }
        match filter.assigned {
            Some(Some(agent)) => query = query.filter(tickets::assignee_id.eq(agent.to_string())),
            Some(None) => query = query.filter(tickets::assignee_id.is_null()),
            None => {}
        }
        if let Some(after) = after {
            query = query.filter(tickets::id.gt(after.to_owned()));
        }
        Ok(query.load(&mut conn)?)
    }

    pub fn is_priority(text: &str) -> bool {
        PRIORITIES.contains(&text)
    }
}
