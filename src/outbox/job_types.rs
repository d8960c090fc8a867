//! The outbox's job vocabulary: a job's state, its kind and the queue it runs in, each
//! stored as its name in a TEXT column (`jobs.state`, `jobs.kind`, `jobs.provider`) and
//! spelled the same in JSON, on the command line and in metric labels.

use std::fmt;
use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

/// A name that is none of a job enum's values; the message lists the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job {what} {got:?}: expected one of {expected}")]
pub struct UnknownName {
    /// What was being read: `state`, `kind` or `provider`.
    pub what: &'static str,
    pub got: String,
    /// The accepted names, comma separated.
    pub expected: String,
}

/// Defines a job enum with its stored names: `as_str`, `ALL`, `FromStr`, `Display`, serde as
/// the name, and sqlx encoding and decoding as a TEXT value on any backend that stores `str`.
macro_rules! job_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name as stored and as the APIs spell it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Every name, in the order of [`Self::ALL`].
            pub fn names() -> impl Iterator<Item = &'static str> {
                Self::ALL.iter().map(|v| v.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName {
                        what: $what,
                        got: s.to_owned(),
                        expected: Self::names().collect::<Vec<_>>().join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl<DB: Database> Type<DB> for $name
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            &'static str: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&'static str as Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&'r str as Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }
    };
}

job_enum! {
    /// Where a job is in its life (`jobs.state`).
    JobState, "state" {
        /// Queued, never attempted since it was (re)queued.
        Pending => "pending",
        /// Queued again after a failed attempt.
        Retrying => "retrying",
        /// Claimed by a worker under a lease.
        Running => "running",
        /// Stopped: its outcome is unknown or needs a person's decision.
        NeedsReview => "needs-review",
        /// Stopped: it cannot succeed as it is (a dead letter).
        Dead => "dead",
        /// Finished successfully.
        Done => "done",
        /// Withdrawn before it ran (the order stopped, or a changed design replaced it).
        Cancelled => "cancelled",
        /// Kept back by the owner (the order screen's Hold) until released (Send now).
        Held => "held",
        /// Waiting for the owner's approval before it is queued.
        AwaitingApproval => "awaiting-approval",
    }
}

impl JobState {
    /// The states a bulk replay takes jobs from.
    pub const STOPPED: [JobState; 2] = [JobState::NeedsReview, JobState::Dead];

    /// Waiting in the queue for a worker: pending or retrying.
    pub fn is_queued(self) -> bool {
        matches!(self, JobState::Pending | JobState::Retrying)
    }

    /// Waiting for an operator: needs-review or dead.
    pub fn is_stopped(self) -> bool {
        Self::STOPPED.contains(&self)
    }
}

job_enum! {
    /// What a job does (`jobs.kind`).
    JobKind, "kind" {
        /// Creates the order at its provider.
        PlaceOrder => "place_order",
        /// Downloads a Key2print project's PDF.
        FetchPdf => "fetch_pdf",
        /// Writes a note back to the shop's order.
        OrderNote => "order_note",
        /// Reads the order from the shop again.
        FetchOrder => "fetch_order",
        /// Sends an order event to one configured endpoint.
        SendEvent => "send_event",
    }
}

job_enum! {
    /// The queue a job runs in (`jobs.provider`): a print provider's, or the shop's own for
    /// the calls back to WooCommerce.
    JobQueue, "provider" {
        Spiff => "spiff",
        Apliiq => "apliiq",
        Key2print => "key2print",
        /// Write-back to the shop.
        Woocommerce => "woocommerce",
        /// Order events to the endpoints a store configures.
        Events => "events",
    }
}

impl JobQueue {
    /// The print provider of this queue; none for the shop's own and the order events.
    pub fn provider(self) -> Option<crate::providers::Provider> {
        match self {
            JobQueue::Spiff => Some(crate::providers::Provider::Spiff),
            JobQueue::Apliiq => Some(crate::providers::Provider::Apliiq),
            JobQueue::Key2print => Some(crate::providers::Provider::Key2print),
            JobQueue::Woocommerce | JobQueue::Events => None,
        }
    }
}

impl From<crate::providers::Provider> for JobQueue {
    fn from(p: crate::providers::Provider) -> Self {
        match p {
            crate::providers::Provider::Spiff => JobQueue::Spiff,
            crate::providers::Provider::Apliiq => JobQueue::Apliiq,
            crate::providers::Provider::Key2print => JobQueue::Key2print,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_spelled_as_stored() {
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>(), Ok(*s));
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(
                serde_json::from_value::<JobState>(s.as_str().into()).unwrap(),
                *s
            );
        }
        for k in JobKind::ALL {
            assert_eq!(k.as_str().parse::<JobKind>(), Ok(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for q in JobQueue::ALL {
            assert_eq!(q.as_str().parse::<JobQueue>(), Ok(*q));
            assert_eq!(serde_json::to_value(q).unwrap(), q.as_str());
        }
        assert_eq!(
            JobState::names().collect::<Vec<_>>(),
            [
                "pending",
                "retrying",
                "running",
                "needs-review",
                "dead",
                "done",
                "cancelled",
                "held",
                "awaiting-approval"
            ]
        );
        assert_eq!(
            JobKind::names().collect::<Vec<_>>(),
            [
                "place_order",
                "fetch_pdf",
                "order_note",
                "fetch_order",
                "send_event"
            ]
        );
        assert_eq!(
            JobQueue::names().collect::<Vec<_>>(),
            ["spiff", "apliiq", "key2print", "woocommerce", "events"]
        );
    }

    #[test]
    fn an_unknown_name_lists_the_accepted_ones() {
        let e = "needs_review".parse::<JobState>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown job state \"needs_review\": expected one of pending, retrying, running, \
             needs-review, dead, done, cancelled, held, awaiting-approval"
        );
        assert!(serde_json::from_str::<JobKind>("\"place-order\"").is_err());
        assert!("Spiff".parse::<JobQueue>().is_err());
    }

    /// The quoted names compared with `column` in SQL text: `column = 'x'`, `column <> 'x'`
    /// and `column IN ('x', 'y')` (a sub-select after `IN (` is skipped).
    fn sql_names<'a>(sql: &'a str, column: &str) -> Vec<&'a str> {
        let mut names = Vec::new();
        for op in [" = '", " <> '", " IN ("] {
            let pattern = format!("{column}{op}");
            for (at, _) in sql.match_indices(&pattern) {
                let rest = &sql[at + pattern.len()..];
                if op == " IN (" {
                    let Some(end) = rest.find(')') else { continue };
                    if !rest.starts_with('\'') {
                        continue;
                    }
                    names.extend(rest[..end].split(',').map(|n| n.trim().trim_matches('\'')));
                } else if let Some(end) = rest.find('\'') {
                    names.push(&rest[..end]);
                }
            }
        }
        names
    }

    /// Every state, kind and queue the store's SQL spells as a literal is one of the enums'
    /// names. (A test: its sources and its three checks read best side by side.)
    #[test]
    fn names_spelled_in_sql_are_the_enums_names() {
        let sources = [
            include_str!("jobs.rs"),
            include_str!("../reads/jobs.rs"),
            include_str!("replay.rs"),
            include_str!("../intake/apply.rs"),
            include_str!("../reads/orders.rs"),
        ];
        let mut checked = 0;
        for src in sources {
            for name in sql_names(src, "state") {
                assert!(name.parse::<JobState>().is_ok(), "state {name:?} in SQL");
                checked += 1;
            }
            for name in sql_names(src, "provider") {
                assert!(name.parse::<JobQueue>().is_ok(), "provider {name:?} in SQL");
                checked += 1;
            }
            for name in sql_names(src, "kind") {
                assert!(name.parse::<JobKind>().is_ok(), "kind {name:?} in SQL");
                checked += 1;
            }
        }
        assert!(
            checked >= 30,
            "only {checked} names found: is the scan still reading SQL?"
        );
        // The names written as values: pushed into a multi-row insert, listed in `VALUES`,
        // or chosen by a `CASE`.
        let any_name = |n: &str| {
            n.parse::<JobState>().is_ok()
                || n.parse::<JobKind>().is_ok()
                || n.parse::<JobQueue>().is_ok()
        };
        let mut values = 0;
        for src in sources {
            for (at, _) in src.match_indices(".push(\"'") {
                let rest = &src[at + 8..];
                let name = &rest[..rest.find('\'').unwrap_or(0)];
                assert!(any_name(name), "{name:?} pushed into SQL");
                values += 1;
            }
            for (at, _) in src.match_indices("VALUES (") {
                let rest = &src[at + 8..];
                let list = &rest[..rest.find(')').unwrap_or(0)];
                for quoted in list
                    .split(',')
                    .map(str::trim)
                    .filter(|v| v.starts_with('\''))
                {
                    let name = quoted.trim_matches('\'');
                    assert!(any_name(name), "{name:?} in VALUES");
                    values += 1;
                }
            }
            for pattern in ["THEN '", "ELSE '"] {
                for (at, _) in src.match_indices(pattern) {
                    let rest = &src[at + pattern.len()..];
                    let name = &rest[..rest.find('\'').unwrap_or(0)];
                    assert!(name.parse::<JobState>().is_ok(), "state {name:?} in a CASE");
                    values += 1;
                }
            }
        }
        assert!(values >= 8, "only {values} written names found");
        use crate::outbox::jobs::{IN_JOBS_DUE, IN_JOBS_STATE};
        assert_eq!(sql_names(IN_JOBS_DUE, "state"), ["pending", "retrying"]);
        for s in sql_names(IN_JOBS_DUE, "state") {
            assert!(s.parse::<JobState>().is_ok_and(JobState::is_queued));
        }
        assert_eq!(
            sql_names(IN_JOBS_STATE, "state"),
            [
                "running",
                "needs-review",
                "dead",
                "held",
                "awaiting-approval"
            ]
        );
    }

    #[test]
    fn every_provider_has_its_queue() {
        use crate::providers::Provider;
        for p in [Provider::Spiff, Provider::Apliiq, Provider::Key2print] {
            assert_eq!(JobQueue::from(p).as_str(), p.as_str());
            assert_eq!(JobQueue::from(p).provider(), Some(p));
        }
        assert_eq!(JobQueue::Woocommerce.provider(), None);
        assert_eq!(JobQueue::Events.provider(), None);
    }

    #[tokio::test]
    async fn they_bind_and_decode_as_sqlite_text() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (state TEXT NOT NULL, kind TEXT NOT NULL, provider TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES ($1, $2, $3)")
            .bind(JobState::NeedsReview)
            .bind(JobKind::FetchPdf)
            .bind(Some(JobQueue::Key2print))
            .execute(&pool)
            .await
            .unwrap();
        let raw: (String, String, String) = sqlx::query_as("SELECT state, kind, provider FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(
            raw,
            (
                "needs-review".into(),
                "fetch_pdf".into(),
                "key2print".into()
            )
        );
        let typed: (JobState, JobKind, Option<JobQueue>) =
            sqlx::query_as("SELECT state, kind, provider FROM t")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(
            typed,
            (
                JobState::NeedsReview,
                JobKind::FetchPdf,
                Some(JobQueue::Key2print)
            )
        );
        sqlx::query("UPDATE t SET state = 'stuck'")
            .execute(&pool)
            .await
            .unwrap();
        let bad = sqlx::query_as::<_, (JobState,)>("SELECT state FROM t")
            .fetch_one(&pool)
            .await;
        assert!(bad.is_err(), "an unknown stored state does not decode");
    }

    /// PostgreSQL's TEXT (and VARCHAR) columns, when `PRINTBRIDGE_TEST_POSTGRES_URL` names a
    /// server.
    #[tokio::test]
    async fn they_bind_and_decode_as_postgres_text() {
        let Ok(url) = std::env::var("PRINTBRIDGE_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("PRINTBRIDGE_REQUIRE_POSTGRES").is_none(),
                "PRINTBRIDGE_REQUIRE_POSTGRES is set but PRINTBRIDGE_TEST_POSTGRES_URL is not"
            );
            return;
        };
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(
            "CREATE TEMPORARY TABLE job_types_t \
             (state TEXT NOT NULL, kind VARCHAR(32) NOT NULL, provider TEXT)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query("INSERT INTO job_types_t VALUES ($1, $2, $3)")
            .bind(JobState::NeedsReview)
            .bind(JobKind::OrderNote)
            .bind(Option::<JobQueue>::None)
            .execute(&mut *tx)
            .await
            .unwrap();
        let raw: (String, String) = sqlx::query_as("SELECT state, kind FROM job_types_t")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(raw, ("needs-review".into(), "order_note".into()));
        let typed: (JobState, JobKind, Option<JobQueue>) =
            sqlx::query_as("SELECT state, kind, provider FROM job_types_t")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(typed, (JobState::NeedsReview, JobKind::OrderNote, None));
        let literal: (JobQueue,) = sqlx::query_as("SELECT 'woocommerce'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(literal.0, JobQueue::Woocommerce);
        tx.rollback().await.unwrap();
    }
}
