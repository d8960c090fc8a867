//! The two databases the store runs on, as one type parameter of its statements.
//!
//! SQLite and PostgreSQL share most SQL (`$1` placeholders work on both), so a statement is
//! one generic function over the backend; [`Backend::POSTGRES`] picks the form where they
//! differ. The `where` clause of [`Backend`] lists the sqlx bounds both meet. Rust does not
//! carry a trait's `where` clause to the places that name the trait, so the blocks of generic
//! statements repeat it (see [`crate::intake::apply`] and [`crate::outbox::jobs`]).

use sqlx::postgres::{PgQueryResult, Postgres};
use sqlx::sqlite::{Sqlite, SqliteQueryResult};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

/// What an executed statement reports.
pub(crate) trait Done {
    fn rows_affected(&self) -> u64;
    /// The last rowid the statement inserted: SQLite's; PostgreSQL has none to give.
    fn last_insert_id(&self) -> Option<i64>;
}

impl Done for SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        SqliteQueryResult::rows_affected(self)
    }

    fn last_insert_id(&self) -> Option<i64> {
        Some(self.last_insert_rowid())
    }
}

impl Done for PgQueryResult {
    fn rows_affected(&self) -> u64 {
        PgQueryResult::rows_affected(self)
    }

    fn last_insert_id(&self) -> Option<i64> {
        None
    }
}

/// A database the store runs its statements on: its connections execute queries, and the
/// values the statements bind and read encode and decode on it.
pub(crate) trait Backend: sqlx::Database<QueryResult: Done>
where
    for<'c> &'c mut Self::Connection: Executor<'c, Database = Self>,
    Self::Arguments: IntoArguments<Self>,
    usize: ColumnIndex<Self::Row>,
    for<'q> i64: Encode<'q, Self> + Decode<'q, Self> + Type<Self>,
    for<'q> Option<i64>: Encode<'q, Self>,
    for<'q> i32: Encode<'q, Self> + Type<Self>,
    for<'q> bool: Decode<'q, Self> + Type<Self>,
    for<'q> &'q str: Encode<'q, Self> + Type<Self>,
    for<'q> Option<&'q str>: Encode<'q, Self>,
    for<'q> String: Encode<'q, Self> + Decode<'q, Self> + Type<Self>,
    for<'q> &'q [u8]: Encode<'q, Self> + Type<Self>,
    for<'q> Vec<u8>: Decode<'q, Self> + Type<Self>,
{
    /// PostgreSQL, where statements fold together with data-modifying `WITH` queries (which
    /// SQLite does not have) and each statement is a round trip to the server.
    const POSTGRES: bool;
}

impl Backend for Sqlite {
    const POSTGRES: bool = false;
}

impl Backend for Postgres {
    const POSTGRES: bool = true;
}
