//! Keyset pagination, newest first: every list is ordered by `(created_at, id)` descending,
//! which an index serves, and a page starts after the row `starting_after` names.

/// Narrows the boxed query `$query` on `$table` to one page of `$page` (a `PageRequest`): the
/// rows after the cursor row, newest first, `limit + 1` of them so the caller can tell
/// `has_more`. Returns `StoreError::MissingReference` from the enclosing function when the
/// cursor names no row.
macro_rules! newest_first_page {
    ($table:ident, $query:expr, $conn:expr, $page:expr) => {{
        let mut query = $query;
        if let Some(cursor) = $page.starting_after {
            let (at, id): (chrono::DateTime<chrono::Utc>, uuid::Uuid) = $table::table
                .find(cursor)
                .select(($table::created_at, $table::id))
                .first($conn)
                .await
                .optional()
                .map_err($crate::errors::store_error)?
                .ok_or(orderpay_domain::store::StoreError::MissingReference)?;
            // A row comparison, which the (created_at DESC, id DESC) index seeks directly.
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(concat!(
                    "(",
                    stringify!($table),
                    ".created_at, ",
                    stringify!($table),
                    ".id) < ("
                ))
                .bind::<diesel::sql_types::Timestamptz, _>(at)
                .sql(", ")
                .bind::<diesel::sql_types::Uuid, _>(id)
                .sql(")"),
            );
        }
        query
            .order(($table::created_at.desc(), $table::id.desc()))
            .limit($page.limit.get() as i64 + 1)
    }};
}
