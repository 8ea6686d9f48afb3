//! Product search: full text with stemming and prefix matching, filters,
//! sorts, keyset pagination and category facets. The one place where the
//! SQL differs per backend: SQLite FTS5 vs PostgreSQL tsvector with GIN.
//!
//! Relevance is a per-product score that does not depend on the rest of the
//! corpus — for each query term: 3 if it matches the name, 2 the SKU, 1 the
//! description — so a page boundary cannot move when other products are
//! added while a customer pages (bm25-style scores would).

use crate::store::ProductRow;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use diesel::sqlite::SqliteConnection;
use kernel::db::DbConn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

impl Sort {
    pub fn parse(text: &str) -> Option<Sort> {
        match text {
            "relevance" => Some(Sort::Relevance),
            "price_asc" => Some(Sort::PriceAsc),
            "price_desc" => Some(Sort::PriceDesc),
            "newest" => Some(Sort::Newest),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::Newest => "newest",
        }
    }
}

/// Where the previous page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct After {
    pub score: i64,
    pub price: i64,
    pub seq: i64,
}

#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Query words, already split and lower-cased (see [`terms`]).
    pub terms: Vec<String>,
    /// The category and its descendants.
    pub category_ids: Option<Vec<String>>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: bool,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Hit {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub description: String,
    #[diesel(sql_type = BigInt)]
    pub price_amount: i64,
    #[diesel(sql_type = Text)]
    pub price_currency: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub category_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub attributes: String,
    #[diesel(sql_type = Bool)]
    pub active: bool,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub archived_at: Option<chrono::NaiveDateTime>,
    #[diesel(sql_type = BigInt)]
    pub on_hand: i64,
    #[diesel(sql_type = BigInt)]
    pub reserved: i64,
    #[diesel(sql_type = Timestamp)]
    pub created_at: chrono::NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    pub updated_at: chrono::NaiveDateTime,
    #[diesel(sql_type = BigInt)]
    pub score: i64,
}

impl Hit {
    pub fn into_row(self) -> (ProductRow, i64) {
        let score = self.score;
        (
            ProductRow {
                seq: self.seq,
                id: self.id,
                sku: self.sku,
                name: self.name,
                description: self.description,
                price_amount: self.price_amount,
                price_currency: self.price_currency,
                category_id: self.category_id,
                attributes: self.attributes,
                active: self.active,
                archived_at: self.archived_at,
                on_hand: self.on_hand,
                reserved: self.reserved,
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
            score,
        )
    }
}

#[derive(Debug, Clone, QueryableByName)]
pub struct FacetRow {
    #[diesel(sql_type = Nullable<Text>)]
    pub category_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// Splits a query into at most eight searchable words: letters and digits
/// only, so nothing a customer types reaches the full-text syntax.
pub fn terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| word.chars().take(40).collect::<String>().to_lowercase())
        .take(8)
        .collect()
}

enum Bind {
    Text(String),
    Int(i64),
}

/// SQL text with its binds, numbered for PostgreSQL or positional for SQLite.
struct Sql {
    text: String,
    binds: Vec<Bind>,
    postgres: bool,
}

impl Sql {
    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn bind(&mut self, value: Bind) {
        self.binds.push(value);
        if self.postgres {
            self.text.push_str(&format!("${}", self.binds.len()));
        } else {
            self.text.push('?');
        }
    }
}

const COLUMNS: &str = "p.seq, p.id, p.sku, p.name, p.description, p.price_amount, p.price_currency, \
    p.category_id, p.attributes, p.active, p.archived_at, p.on_hand, p.reserved, p.created_at, p.updated_at";

/// Adds the WHERE conditions (for shoppers: active, not archived).
fn filters(sql: &mut Sql, filter: &SearchFilter, with_category: bool) {
    sql.push(" WHERE p.active = ");
    sql.push(if sql.postgres { "TRUE" } else { "1" });
    sql.push(" AND p.archived_at IS NULL");
    if !filter.terms.is_empty() {
        if sql.postgres {
            sql.push(" AND p.search_vector @@ to_tsquery('english', ");
            let query = filter.terms.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>().join(" & ");
            sql.bind(Bind::Text(query));
            sql.push(")");
        } else {
            sql.push(" AND product_search MATCH ");
            let query = filter.terms.iter().map(|t| format!("\"{t}\"*")).collect::<Vec<_>>().join(" AND ");
            sql.bind(Bind::Text(query));
        }
    }
    if with_category && let Some(ids) = &filter.category_ids {
        sql.push(" AND p.category_id IN (");
        for (index, id) in ids.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.bind(Bind::Text(id.clone()));
        }
        sql.push(")");
    }
    if let Some(min) = filter.min_price {
        sql.push(" AND p.price_amount >= ");
        sql.bind(Bind::Int(min));
    }
    if let Some(max) = filter.max_price {
        sql.push(" AND p.price_amount <= ");
        sql.bind(Bind::Int(max));
    }
    if filter.in_stock {
        sql.push(" AND p.on_hand - p.reserved > 0");
    }
}

/// The FROM clause. On SQLite a text query is driven from the full-text
/// index (`CROSS JOIN` fixes the loop order), so only matching rows are
/// visited; otherwise the planner may walk a products index and probe the
/// index per row.
fn from(sql: &mut Sql, filter: &SearchFilter) {
    if !sql.postgres && !filter.terms.is_empty() {
        sql.push(" FROM product_search CROSS JOIN products p ON p.seq = product_search.rowid");
    } else {
        sql.push(" FROM products p");
    }
}

/// The relevance score expression (0 without terms).
fn score(sql: &mut Sql, terms: &[String]) {
    // BIGINT throughout: PostgreSQL would otherwise type the sum as int4.
    if terms.is_empty() {
        sql.push("CAST(0 AS BIGINT)");
        return;
    }
    sql.push("(CAST(0 AS BIGINT)");
    for term in terms {
        for (weight, postgres_label, sqlite_column) in [(3, "A", "name"), (2, "B", "sku"), (1, "D", "description")] {
            sql.push(" + ");
            sql.push("(CASE WHEN ");
            if sql.postgres {
                sql.push("p.search_vector @@ to_tsquery('english', ");
                sql.bind(Bind::Text(format!("{term}:*{postgres_label}")));
                sql.push(")");
            } else {
                sql.push("p.seq IN (SELECT rowid FROM product_search WHERE product_search MATCH ");
                sql.bind(Bind::Text(format!("{sqlite_column} : \"{term}\"*")));
                sql.push(")");
            }
            sql.push(&format!(" THEN {weight} ELSE 0 END)"));
        }
    }
    sql.push(")");
}

fn page_sql(postgres: bool, filter: &SearchFilter, sort: Sort, after: Option<After>, limit: i64) -> Sql {
    let mut sql = Sql { text: String::new(), binds: Vec::new(), postgres };
    let sort = if sort == Sort::Relevance && filter.terms.is_empty() { Sort::Newest } else { sort };
    sql.push(&format!("SELECT * FROM (SELECT {COLUMNS}, "));
    score(&mut sql, &filter.terms);
    sql.push(" AS score");
    from(&mut sql, filter);
    filters(&mut sql, filter, true);
    sql.push(") AS hits");
    if let Some(after) = after {
        match sort {
            Sort::Relevance => {
                sql.push(" WHERE (score < ");
                sql.bind(Bind::Int(after.score));
                sql.push(" OR (score = ");
                sql.bind(Bind::Int(after.score));
                sql.push(" AND seq < ");
                sql.bind(Bind::Int(after.seq));
                sql.push("))");
            }
            Sort::Newest => {
                sql.push(" WHERE seq < ");
                sql.bind(Bind::Int(after.seq));
            }
            Sort::PriceAsc | Sort::PriceDesc => {
                let op = if sort == Sort::PriceAsc { ">" } else { "<" };
                sql.push(&format!(" WHERE (price_amount {op} "));
                sql.bind(Bind::Int(after.price));
                sql.push(" OR (price_amount = ");
                sql.bind(Bind::Int(after.price));
                sql.push(&format!(" AND seq {op} "));
                sql.bind(Bind::Int(after.seq));
                sql.push("))");
            }
        }
    }
    sql.push(match sort {
        Sort::Relevance => " ORDER BY score DESC, seq DESC",
        Sort::Newest => " ORDER BY seq DESC",
        Sort::PriceAsc => " ORDER BY price_amount ASC, seq ASC",
        Sort::PriceDesc => " ORDER BY price_amount DESC, seq DESC",
    });
    sql.push(" LIMIT ");
    sql.bind(Bind::Int(limit));
    sql
}

fn facet_sql(postgres: bool, filter: &SearchFilter) -> Sql {
    let mut sql = Sql { text: String::new(), binds: Vec::new(), postgres };
    sql.push("SELECT p.category_id AS category_id, COUNT(*) AS count");
    from(&mut sql, filter);
    filters(&mut sql, filter, false);
    sql.push(" GROUP BY p.category_id");
    sql
}

macro_rules! run_on {
    ($conn:expr, $sql:expr, $row:ty, $backend:ty) => {{
        let mut query = diesel::sql_query($sql.text).into_boxed::<$backend>();
        for bind in $sql.binds {
            query = match bind {
                Bind::Text(text) => query.bind::<Text, _>(text),
                Bind::Int(value) => query.bind::<BigInt, _>(value),
            };
        }
        query.load::<$row>($conn)
    }};
}

fn load_pg<T: QueryableByName<diesel::pg::Pg> + 'static>(conn: &mut PgConnection, sql: Sql) -> QueryResult<Vec<T>> {
    run_on!(conn, sql, T, diesel::pg::Pg)
}

fn load_sqlite<T: QueryableByName<diesel::sqlite::Sqlite> + 'static>(
    conn: &mut SqliteConnection,
    sql: Sql,
) -> QueryResult<Vec<T>> {
    run_on!(conn, sql, T, diesel::sqlite::Sqlite)
}

/// One page of hits, at most `limit`.
pub fn search(
    conn: &mut DbConn,
    filter: &SearchFilter,
    sort: Sort,
    after: Option<After>,
    limit: i64,
) -> QueryResult<Vec<Hit>> {
    match conn {
        DbConn::Pg(pg) => load_pg(pg, page_sql(true, filter, sort, after, limit)),
        DbConn::Sqlite(sqlite) => load_sqlite(sqlite, page_sql(false, filter, sort, after, limit)),
    }
}

/// Matches per category for the same query and filters, category aside.
pub fn category_facets(conn: &mut DbConn, filter: &SearchFilter) -> QueryResult<Vec<FacetRow>> {
    match conn {
        DbConn::Pg(pg) => load_pg(pg, facet_sql(true, filter)),
        DbConn::Sqlite(sqlite) => load_sqlite(sqlite, facet_sql(false, filter)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_cannot_inject_search_syntax() {
        assert_eq!(terms("Wireless  HEADPHONES!"), vec!["wireless", "headphones"]);
        assert_eq!(terms("\"a\" OR b* NEAR(c) -d"), vec!["a", "or", "b", "near", "c", "d"]);
        assert_eq!(terms("'; DROP TABLE products; --"), vec!["drop", "table", "products"]);
        assert!(terms("  ***  ").is_empty());
        assert_eq!(terms("café über"), vec!["café", "über"]);
        assert_eq!(terms("a b c d e f g h i j").len(), 8);
    }

    #[test]
    fn placeholders_follow_the_backend() {
        let filter = SearchFilter { terms: vec!["wire".into()], min_price: Some(100), ..SearchFilter::default() };
        let pg = page_sql(true, &filter, Sort::Relevance, None, 10);
        assert!(pg.text.contains("$1") && !pg.text.contains('?'), "{}", pg.text);
        let sqlite = page_sql(false, &filter, Sort::Relevance, None, 10);
        assert!(!sqlite.text.contains('$'), "{}", sqlite.text);
        assert_eq!(pg.binds.len(), sqlite.binds.len());
    }
}
