//! Ratings of resolved tickets, support statistics, and erasure.

use crate::schema::{ticket_messages, ticket_ratings, tickets};
use crate::service::{SupportError, SupportService};
use diesel::prelude::*;
use kernel::UserId;
use kernel::db::DbConn;

#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Open or pending tickets per kind.
    pub open_by_kind: Vec<(String, i64)>,
    pub median_first_response_seconds: Option<f64>,
    pub median_resolution_seconds: Option<f64>,
    pub average_rating: Option<f64>,
    pub ratings: i64,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] })
}

impl SupportService {
    /// The customer rates their resolved (or closed) ticket, once.
    pub fn rate(&self, user: UserId, id: &str, score: i32, comment: &str) -> Result<(), SupportError> {
        let mut conn = self.database().conn()?;
        kernel::db::write_transaction(&mut conn, |conn| {
            let (owner, status): (String, String) = tickets::table
                .find(id)
                .select((tickets::user_id, tickets::status))
                .first(conn)
                .optional()?
                .ok_or(SupportError::NotFound)?;
            if owner != user.to_string() {
                return Err(SupportError::NotFound);
            }
            if status != "resolved" && status != "closed" {
                return Err(SupportError::NotRated("the ticket is not resolved yet"));
            }
            let rated: i64 = ticket_ratings::table.filter(ticket_ratings::ticket_id.eq(id)).count().get_result(conn)?;
            if rated > 0 {
                return Err(SupportError::NotRated("the ticket is already rated"));
            }
            diesel::insert_into(ticket_ratings::table)
                .values((
                    ticket_ratings::ticket_id.eq(id),
                    ticket_ratings::score.eq(score),
                    ticket_ratings::comment.eq(comment),
                    ticket_ratings::created_at.eq(chrono::Utc::now().naive_utc()),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    pub fn stats(&self) -> Result<Stats, SupportError> {
        let mut conn = self.database().conn()?;
        let open: Vec<(String, i64)> = tickets::table
            .filter(tickets::status.eq_any(["open", "pending"]))
            .group_by(tickets::kind)
            .select((tickets::kind, diesel::dsl::count_star()))
            .order(tickets::kind.asc())
            .load(&mut conn)?;
        let times: Vec<(chrono::NaiveDateTime, Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>)> =
            tickets::table
                .select((tickets::created_at, tickets::first_response_at, tickets::resolved_at))
                .load(&mut conn)?;
        let first =
            times.iter().filter_map(|(c, f, _)| f.map(|f| (f - *c).num_milliseconds() as f64 / 1000.0)).collect();
        let resolution =
            times.iter().filter_map(|(c, _, r)| r.map(|r| (r - *c).num_milliseconds() as f64 / 1000.0)).collect();
        let scores: Vec<i32> = ticket_ratings::table.select(ticket_ratings::score).load(&mut conn)?;
        Ok(Stats {
            open_by_kind: open,
            median_first_response_seconds: median(first),
            median_resolution_seconds: median(resolution),
            average_rating: (!scores.is_empty())
                .then(|| scores.iter().map(|s| f64::from(*s)).sum::<f64>() / scores.len() as f64),
            ratings: scores.len() as i64,
        })
    }

    /// On `UserErased`: the customer's words leave their tickets and
    /// messages; agents' messages and the tickets' facts stay.
    pub fn anonymise(&self, conn: &mut DbConn, user: UserId) -> QueryResult<usize> {
        let key = user.to_string();
        diesel::update(tickets::table.filter(tickets::user_id.eq(&key)))
            .set(tickets::subject.eq("[erased]"))
            .execute(conn)?;
        diesel::update(
            ticket_messages::table
                .filter(ticket_messages::author_id.eq(&key))
                .filter(ticket_messages::author.eq("customer")),
        )
        .set(ticket_messages::body.eq("[erased]"))
        .execute(conn)?;
        diesel::update(ticket_ratings::table.filter(
            ticket_ratings::ticket_id.eq_any(tickets::table.filter(tickets::user_id.eq(&key)).select(tickets::id)),
        ))
        .set(ticket_ratings::comment.eq("[erased]"))
        .execute(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
