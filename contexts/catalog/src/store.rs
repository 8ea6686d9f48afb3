//! Persistence of the catalog. Rows stay here; functions take `&mut DbConn`
//! so use cases compose them in one transaction with their outbox writes.

use crate::schema::{categories, product_images, products, reservations, stock_adjustments};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use kernel::db::DbConn;

pub use kernel::db::{from_db_time as utc, to_db_time as db_time};

pub fn is_unique_violation(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
}

// ----- categories -----

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = categories)]
#[diesel(treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CategoryRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub parent_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_category(conn: &mut DbConn, row: &CategoryRow) -> QueryResult<()> {
    diesel::insert_into(categories::table).values(row).execute(conn).map(|_| ())
}

pub fn save_category(conn: &mut DbConn, row: &CategoryRow) -> QueryResult<()> {
    diesel::update(categories::table.find(&row.id)).set(row).execute(conn).map(|_| ())
}

pub fn find_category(conn: &mut DbConn, id: &str) -> QueryResult<Option<CategoryRow>> {
    categories::table.find(id).select(CategoryRow::as_select()).first(conn).optional()
}

pub fn find_category_by_slug(conn: &mut DbConn, slug: &str) -> QueryResult<Option<CategoryRow>> {
    categories::table.filter(categories::slug.eq(slug)).select(CategoryRow::as_select()).first(conn).optional()
}

pub fn all_categories(conn: &mut DbConn) -> QueryResult<Vec<CategoryRow>> {
    categories::table.order((categories::name.asc(), categories::id.asc())).select(CategoryRow::as_select()).load(conn)
}

pub fn delete_category(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(categories::table.find(id)).execute(conn)
}

/// Whether a category has children or products (archived ones count: their
/// history still points at it).
pub fn category_in_use(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let children: i64 = categories::table.filter(categories::parent_id.eq(id)).count().get_result(conn)?;
    let products: i64 = products::table.filter(products::category_id.eq(id)).count().get_result(conn)?;
    Ok(children + products > 0)
}

// ----- products -----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = products)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ProductRow {
    pub seq: i64,
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_amount: i64,
    pub price_currency: String,
    pub category_id: Option<String>,
    pub attributes: String,
    pub active: bool,
    pub archived_at: Option<NaiveDateTime>,
    pub on_hand: i64,
    pub reserved: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = products)]
pub struct NewProductRow {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_amount: i64,
    pub price_currency: String,
    pub category_id: Option<String>,
    pub attributes: String,
    pub active: bool,
    pub on_hand: i64,
    pub reserved: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The editable columns. Stock columns are deliberately absent: they change
/// only through conditional updates, never by writing a row back.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = products)]
#[diesel(treat_none_as_null = true)]
pub struct ProductEdit {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_amount: i64,
    pub price_currency: String,
    pub category_id: Option<String>,
    pub attributes: String,
    pub active: bool,
    pub updated_at: NaiveDateTime,
}

pub fn insert_product(conn: &mut DbConn, row: &NewProductRow) -> QueryResult<()> {
    diesel::insert_into(products::table).values(row).execute(conn).map(|_| ())
}

pub fn edit_product(conn: &mut DbConn, id: &str, edit: &ProductEdit) -> QueryResult<()> {
    diesel::update(products::table.filter(products::id.eq(id))).set(edit).execute(conn).map(|_| ())
}

/// Hides a product from shoppers.
pub fn archive_product(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(products::table.filter(products::id.eq(id)))
        .set((products::archived_at.eq(Some(now)), products::active.eq(false), products::updated_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}

pub fn find_product(conn: &mut DbConn, id: &str) -> QueryResult<Option<ProductRow>> {
    products::table.filter(products::id.eq(id)).select(ProductRow::as_select()).first(conn).optional()
}

pub fn find_products(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<ProductRow>> {
    products::table.filter(products::id.eq_any(ids)).select(ProductRow::as_select()).load(conn)
}

// ----- images -----

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_images)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ImageRow {
    pub id: String,
    pub product_id: String,
    pub position: i32,
    pub url: String,
    pub alt: String,
    pub stored_file: Option<String>,
    pub content_type: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn images_of(conn: &mut DbConn, product_ids: &[String]) -> QueryResult<Vec<ImageRow>> {
    product_images::table
        .filter(product_images::product_id.eq_any(product_ids))
        .order((product_images::product_id.asc(), product_images::position.asc()))
        .select(ImageRow::as_select())
        .load(conn)
}

pub fn insert_image(conn: &mut DbConn, row: &ImageRow) -> QueryResult<()> {
    diesel::insert_into(product_images::table).values(row).execute(conn).map(|_| ())
}

/// Removes a product's linked (not uploaded) images.
pub fn delete_linked_images(conn: &mut DbConn, product_id: &str) -> QueryResult<usize> {
    diesel::delete(
        product_images::table
            .filter(product_images::product_id.eq(product_id))
            .filter(product_images::stored_file.is_null()),
    )
    .execute(conn)
}

pub fn delete_image(conn: &mut DbConn, product_id: &str, image_id: &str) -> QueryResult<Option<ImageRow>> {
    let row = product_images::table
        .filter(product_images::id.eq(image_id))
        .filter(product_images::product_id.eq(product_id))
        .select(ImageRow::as_select())
        .first(conn)
        .optional()?;
    if row.is_some() {
        diesel::delete(product_images::table.find(image_id)).execute(conn)?;
    }
    Ok(row)
}

pub fn next_image_position(conn: &mut DbConn, product_id: &str) -> QueryResult<i32> {
    let max: Option<i32> = product_images::table
        .filter(product_images::product_id.eq(product_id))
        .select(diesel::dsl::max(product_images::position))
        .first(conn)?;
    Ok(max.map_or(0, |m| m + 1))
}

pub fn find_stored_image(conn: &mut DbConn, stored_file: &str) -> QueryResult<Option<ImageRow>> {
    product_images::table
        .filter(product_images::stored_file.eq(stored_file))
        .select(ImageRow::as_select())
        .first(conn)
        .optional()
}

// ----- stock -----

/// Adds `delta` to on-hand unless that would take it below what is reserved.
/// Returns whether it did.
pub fn adjust_on_hand(conn: &mut DbConn, product_id: &str, delta: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        products::table.filter(products::id.eq(product_id)).filter((products::on_hand + delta).ge(products::reserved)),
    )
    .set((products::on_hand.eq(products::on_hand + delta), products::updated_at.eq(now)))
    .execute(conn)?;
    Ok(changed == 1)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = stock_adjustments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AdjustmentRow {
    pub id: String,
    pub product_id: String,
    pub delta: i64,
    pub reason: String,
    pub on_hand_after: i64,
    pub created_at: NaiveDateTime,
}

pub fn insert_adjustment(conn: &mut DbConn, row: &AdjustmentRow) -> QueryResult<()> {
    diesel::insert_into(stock_adjustments::table).values(row).execute(conn).map(|_| ())
}

/// Whether an adjustment with exactly this reason exists for the product
/// (restocks keyed by order are applied once).
pub fn adjustment_exists(conn: &mut DbConn, product_id: &str, reason: &str) -> QueryResult<bool> {
    let count: i64 = stock_adjustments::table
        .filter(stock_adjustments::product_id.eq(product_id))
        .filter(stock_adjustments::reason.eq(reason))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

pub fn adjustments_of(conn: &mut DbConn, product_id: &str) -> QueryResult<Vec<AdjustmentRow>> {
    stock_adjustments::table
        .filter(stock_adjustments::product_id.eq(product_id))
        .order((stock_adjustments::created_at.desc(), stock_adjustments::id.desc()))
        .select(AdjustmentRow::as_select())
        .load(conn)
}

/// Holds `quantity` units if that many are available and the product is for
/// sale. One conditional statement: concurrent reservations cannot both
/// take the last units.
pub fn hold(conn: &mut DbConn, product_id: &str, quantity: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        products::table
            .filter(products::id.eq(product_id))
            .filter(products::active.eq(true))
            .filter(products::archived_at.is_null())
            .filter((products::on_hand - products::reserved).ge(quantity)),
    )
    .set((products::reserved.eq(products::reserved + quantity), products::updated_at.eq(now)))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Held units leave stock (sold).
pub fn take(conn: &mut DbConn, product_id: &str, quantity: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(products::table.filter(products::id.eq(product_id)))
        .set((
            products::on_hand.eq(products::on_hand - quantity),
            products::reserved.eq(products::reserved - quantity),
            products::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Held units become available again.
pub fn unhold(conn: &mut DbConn, product_id: &str, quantity: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(products::table.filter(products::id.eq(product_id)))
        .set((products::reserved.eq(products::reserved - quantity), products::updated_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reservations)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ReservationRow {
    pub order_id: String,
    pub product_id: String,
    pub quantity: i64,
    pub status: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn reservation_of(conn: &mut DbConn, order_id: &str) -> QueryResult<Vec<ReservationRow>> {
    reservations::table
        .filter(reservations::order_id.eq(order_id))
        .order(reservations::product_id.asc())
        .select(ReservationRow::as_select())
        .load(conn)
}

pub fn insert_reservation(conn: &mut DbConn, row: &ReservationRow) -> QueryResult<()> {
    diesel::insert_into(reservations::table).values(row).execute(conn).map(|_| ())
}

pub fn set_reservation_status(conn: &mut DbConn, order_id: &str, status: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(reservations::table.filter(reservations::order_id.eq(order_id)))
        .set((reservations::status.eq(status), reservations::updated_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}

/// Orders whose held reservation has expired, oldest first.
pub fn expired_orders(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<String>> {
    reservations::table
        .filter(reservations::status.eq("held"))
        .filter(reservations::expires_at.le(now))
        .select(reservations::order_id)
        .distinct()
        .limit(limit)
        .load(conn)
}
