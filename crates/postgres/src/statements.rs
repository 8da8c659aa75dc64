//! The hand-built statements (data-modifying CTEs, so that each write is one round trip) are
//! text that diesel cannot check against `schema.rs`. Each module that builds one offers it
//! to [`tests::every_hand_built_statement_plans`], which asks PostgreSQL to plan it
//! (`EXPLAIN`, with its typed binds, writing nothing) on a migrated database: a table or
//! column the migrations do not make fails it, naming the statement.
//! `schema_rs_is_the_migrated_schema` (`tests/database.rs`) holds `schema.rs` to the same
//! migrations, so the columns these statements name are the ones `schema.rs` declares.
//! (The webhook sender's claim and its `sql_query` record of deliveries are
//! planned by the tests that run them: every delivery goes through both; so are retention's
//! two, by `outbound_faults::retention_…`.)

#[cfg(test)]
pub(crate) use tests::Planned;

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
    use diesel::{QueryResult, sql_types::Text};
    use diesel_async::{AsyncPgConnection, RunQueryDsl};

    use crate::testing::TestDatabase;

    /// `EXPLAIN` of a statement, with its binds: planned, never run.
    struct Explain<'a, Q>(&'a Q);

    impl<Q> QueryId for Explain<'_, Q> {
        type QueryId = ();
        const HAS_STATIC_QUERY_ID: bool = false;
    }

    impl<Q> Query for Explain<'_, Q> {
        type SqlType = Text;
    }

    impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<'_, Q> {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
            out.push_sql("EXPLAIN ");
            self.0.walk_ast(out.reborrow())
        }
    }

    /// Plans statements on one connection and keeps the failures, by statement.
    pub(crate) struct Planned<'c> {
        conn: &'c mut AsyncPgConnection,
        pub(crate) count: usize,
        pub(crate) failed: Vec<String>,
    }

    impl Planned<'_> {
        /// Plans `statement`, named `name` in a failure.
        pub(crate) async fn plan<Q>(&mut self, name: &str, statement: &Q)
        where
            Q: QueryFragment<Pg> + Send + Sync,
        {
            self.count += 1;
            let plan: Result<Vec<String>, _> = Explain(statement).load(self.conn).await;
            if let Err(e) = plan {
                self.failed.push(format!("{name}: {e}"));
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_hand_built_statement_plans() {
        let db = TestDatabase::new().await;
        let mut conn = db.connection().await;
        let mut planned = Planned {
            conn: &mut conn,
            count: 0,
            failed: Vec::new(),
        };
        crate::orders::plan_statements(&mut planned).await;
        crate::payments::plan_statements(&mut planned).await;
        crate::events::plan_statements(&mut planned).await;
        crate::idempotency::plan_statements(&mut planned).await;
        assert!(planned.failed.is_empty(), "{:#?}", planned.failed);
        assert!(
            planned.count >= 11,
            "only {} statements planned",
            planned.count
        );
    }
}
