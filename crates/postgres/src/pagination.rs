//! Keyset pagination, newest first: every list is ordered by `(created_at, id)` descending,
//! which an index serves, and a page starts after the row `starting_after` names.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Bool;
use diesel::{QueryResult, Table};
use uuid::Uuid;

/// `(t.created_at, t.id) < (SELECT created_at, id FROM t WHERE id = $cursor)`: the rows after
/// the cursor row, as one row comparison the `(created_at DESC, id DESC)` index seeks directly
/// (the subquery runs once, as an InitPlan). The cursor's position is found by the same
/// statement, not by a query of its own; a cursor naming no row makes the comparison NULL,
/// so the page is empty, which `cursor_exists` then tells apart from a real end of the list.
///
/// A query fragment of its own rather than `dsl::sql`, which diesel never lets a connection
/// cache: with this, a page's statement is prepared once per connection.
pub(crate) struct AfterCursor<T> {
    /// The table's type names the statement (its query id); `name` is how SQL spells it.
    _table: T,
    name: &'static str,
    cursor: Uuid,
}

impl<T: Table> AfterCursor<T> {
    pub(crate) fn new(table: T, name: &'static str, cursor: Uuid) -> Self {
        Self {
            _table: table,
            name,
            cursor,
        }
    }
}

impl<T> QueryFragment<Pg> for AfterCursor<T> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("((");
        out.push_identifier(self.name)?;
        out.push_sql(".created_at, ");
        out.push_identifier(self.name)?;
        out.push_sql(".id) < (SELECT created_at, id FROM ");
        out.push_identifier(self.name)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.cursor)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<T: 'static> QueryId for AfterCursor<T> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<T> Expression for AfterCursor<T> {
    type SqlType = Bool;
}

impl<T, QS> AppearsOnTable<QS> for AfterCursor<T> {}

impl<T> ValidGrouping<()> for AfterCursor<T> {
    type IsAggregate = is_aggregate::Never;
}

/// Narrows the boxed query `$query` on `$table` to one page of `$page` (a `PageRequest`): the
/// rows after the cursor row, newest first, `limit + 1` of them so the caller can tell
/// `has_more`.
macro_rules! newest_first_page {
    ($table:ident, $query:expr, $page:expr) => {{
        let mut query = $query;
        if let Some(cursor) = $page.starting_after {
            query = query.filter($crate::pagination::AfterCursor::new(
                $table::table,
                stringify!($table),
                cursor,
            ));
        }
        query
            .order(($table::created_at.desc(), $table::id.desc()))
            .limit($page.limit.get() as i64 + 1)
    }};
}

/// After a page came back empty: `StoreError::MissingReference` from the enclosing function
/// when its cursor names no row of `$table` (one more query, only for an empty page).
macro_rules! check_cursor {
    ($table:ident, $conn:expr, $page:expr, $empty:expr) => {
        if let (true, Some(cursor)) = ($empty, $page.starting_after) {
            let exists: bool = diesel::select(diesel::dsl::exists($table::table.find(cursor)))
                .get_result($conn)
                .await
                .map_err($crate::errors::store_error)?;
            if !exists {
                return Err(orderpay_domain::store::StoreError::MissingReference);
            }
        }
    };
}
