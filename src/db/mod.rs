//! The data layer: one connection type over PostgreSQL and bundled SQLite, an r2d2 pool that
//! picks the backend by URL scheme, per-backend embedded migrations, and [`Db::run`], the only
//! way request code touches the database (diesel is blocking, so it never runs on an async
//! worker thread).

pub mod schema;

use std::path::Path;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::private_fs;

/// Migrations for each backend, compiled into the binary so a deployment is one file.
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend. Queries written once against this type run on both;
/// backend-specific statements (upserts) match on the variant.
///
/// SQLite must stay the last variant: the derive tries variants in order.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// Production and multi-node deployments.
    Postgresql(diesel::PgConnection),
    /// The zero-setup default: a file in the data directory.
    Sqlite(diesel::SqliteConnection),
}

/// Which database a URL names, decided by its scheme before anything is dialled, so an
/// unreachable PostgreSQL server is reported as such instead of being retried as a file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://` URL, passed to libpq as is.
    Postgres(String),
    /// `sqlite://path`, `sqlite:path`, `file:path` or a bare path; `:memory:` is refused because
    /// every pooled connection would see its own empty database.
    Sqlite(String),
}

impl Backend {
    /// Parses a `DATABASE_URL`.
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .or_else(|| url.strip_prefix("file:"))
            .unwrap_or(url);
        if path.is_empty() || path == ":memory:" {
            return Err(DbError::Config(format!(
                "DATABASE_URL {url:?} names no database file (use a path or a postgres:// URL)"
            )));
        }
        if path.contains("://") {
            return Err(DbError::Config(format!(
                "DATABASE_URL scheme of {url:?} is not supported (use postgres:// or sqlite://)"
            )));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

/// Why the data layer could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The configuration names something we cannot use.
    #[error("{0}")]
    Config(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        /// Which backend was dialled.
        backend: &'static str,
        /// The pool's error, which carries the driver's message.
        source: r2d2::PoolError,
    },
    /// No connection became free in time, or the pool is closing.
    #[error("database unavailable: {0}")]
    Pool(#[from] r2d2::PoolError),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// Applying migrations failed.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// The blocking task was cancelled or panicked.
    #[error("database task failed: {0}")]
    Blocking(String),
}

/// Opens connections of the backend chosen by scheme and prepares SQLite ones.
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.backend {
            Backend::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(path)
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; busy_timeout makes concurrent writers
                // wait instead of failing; SQLite leaves foreign keys off unless asked.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

/// A cheap-to-clone handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend_name: &'static str,
}

/// A connection borrowed from the pool.
pub type Conn = PooledConnection<Manager>;

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a caller waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Db {
    /// Opens the pool, failing fast with the driver's own message when the database is
    /// unreachable.
    pub fn connect(url: &str, options: &PoolOptions) -> Result<Self, DbError> {
        let backend = Backend::from_url(url)?;
        let backend_name = backend.name();
        // The database holds every account, so its file is the owner's alone (SQLite's journal
        // files take its rights), and a directory made for it is too.
        if let Backend::Sqlite(path) = &backend {
            let file = Path::new(path);
            if let Some(dir) = file.parent()
                && !dir.as_os_str().is_empty()
                && !dir.exists()
            {
                private_fs::ensure_private_dir(dir).map_err(|e| {
                    DbError::Config(format!("cannot create directory {}: {e}", dir.display()))
                })?;
            }
            private_fs::ensure_private_file(file)
                .map_err(|e| DbError::Config(format!("cannot make {path} private: {e}")))?;
        }
        // SQLite has one writer at a time; a handful of connections is plenty and keeps
        // lock waits short.
        let max_size = match backend {
            Backend::Sqlite(_) => options.max_size.min(8),
            Backend::Postgres(_) => options.max_size,
        };
        // No idle minimum: r2d2 would otherwise keep re-opening connections on its own threads
        // (after a failover, or a test dropping its database), and a process that exits while
        // one of those threads is inside libpq's connect crashes with SIGSEGV. Connections are
        // opened on demand instead.
        let pool = Pool::builder()
            .max_size(max_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.acquire_timeout)
            .build(Manager { backend })
            .map_err(|source| DbError::Connect {
                backend: backend_name,
                source,
            })?;
        // Dial once now, so an unreachable database is reported at start with the driver's
        // own message rather than at the first request.
        drop(pool.get().map_err(|source| DbError::Connect {
            backend: backend_name,
            source,
        })?);
        Ok(Self { pool, backend_name })
    }

    /// Which backend this pool talks to.
    pub fn backend(&self) -> &'static str {
        self.backend_name
    }

    /// Borrows a connection, blocking the current thread; for CLI commands and blocking tasks.
    pub fn get(&self) -> Result<Conn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs blocking database work on the blocking thread pool and awaits it, so async workers
    /// never wait on a query.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::Pool)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| DbError::Blocking(e.to_string()))?
    }

    /// Applies every pending migration of this backend; returns how many ran.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.get()?;
        let applied = match &mut *conn {
            DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        }
        .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(applied.len())
    }

    /// True when the database answers and no migration is pending; used by `/readyz`.
    pub fn is_ready(&self) -> Result<(), DbError> {
        let mut conn = self.get()?;
        let pending = match &mut *conn {
            DbConnection::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        }
        .map_err(|e| DbError::Migration(e.to_string()))?;
        if pending {
            return Err(DbError::Migration("migrations are pending".into()));
        }
        Ok(())
    }

    /// Connections open and idle, for `/metrics`.
    pub fn state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}

/// Runs `f` in a transaction meant to write. On SQLite it opens with `BEGIN IMMEDIATE`, taking
/// the write lock up front: a deferred transaction that reads and then writes fails at once with
/// `SQLITE_BUSY` when another writer committed in between, while an immediate one waits its turn
/// (up to `busy_timeout`). On PostgreSQL it is an ordinary transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Multi = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            Multi::commit_transaction(conn)?;
            Ok(value)
        }
        Err(user_error) => match Multi::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(user_error),
            Err(rollback_error) => Err(rollback_error.into()),
        },
    }
}

/// `INSERT … ON CONFLICT DO NOTHING` on either backend, evaluating to the `QueryResult` of
/// rows inserted (0 on a conflict). The MultiConnection cannot build this statement, so it
/// branches on the variant; and catching a unique violation instead is no substitute, because
/// a failed statement aborts the surrounding PostgreSQL transaction.
#[macro_export]
macro_rules! insert_or_ignore {
    ($conn:expr, $table:expr, $values:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConnection::Postgresql(c) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(c),
            $crate::db::DbConnection::Sqlite(c) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(c),
        }
    }};
}

/// Current time as the naive UTC timestamp every table stores.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// True when a diesel error is a unique-key violation, which services turn into 409s.
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db").unwrap().name(),
            "postgres"
        );
        assert_eq!(
            Backend::from_url("sqlite://data/x.db").unwrap(),
            Backend::Sqlite("data/x.db".into())
        );
        assert_eq!(
            Backend::from_url("sqlite:x.db").unwrap(),
            Backend::Sqlite("x.db".into())
        );
        assert_eq!(
            Backend::from_url("./x.db").unwrap(),
            Backend::Sqlite("./x.db".into())
        );
    }

    #[test]
    fn unusable_urls_are_refused() {
        assert!(Backend::from_url("").is_err());
        assert!(Backend::from_url("sqlite::memory:").is_err());
        assert!(Backend::from_url("mysql://h/db").is_err());
    }

    fn sqlite_db(dir: &Path) -> Db {
        let url = format!("sqlite://{}", dir.join("t.db").display());
        let opts = PoolOptions {
            max_size: 8,
            acquire_timeout: Duration::from_secs(10),
        };
        let db = Db::connect(&url, &opts).unwrap();
        db.migrate().unwrap();
        db.get()
            .unwrap()
            .batch_execute(
                "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0);",
            )
            .unwrap();
        db
    }

    fn read_counter(conn: &mut DbConnection) -> i64 {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query("SELECT n FROM counter")
            .get_result::<Row>(conn)
            .unwrap()
            .n
    }

    #[test]
    fn write_transaction_rolls_back_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_db(dir.path());
        let mut conn = db.get().unwrap();
        let failed: Result<(), diesel::result::Error> = write_transaction(&mut conn, |c| {
            diesel::sql_query("UPDATE counter SET n = 42").execute(c)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(failed.is_err());
        assert_eq!(read_counter(&mut conn), 0);
    }

    /// Read-then-write from several connections at once: with deferred transactions SQLite
    /// would fail some with SQLITE_BUSY; immediate ones queue and every increment lands.
    #[test]
    fn concurrent_read_modify_write_on_sqlite_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_db(dir.path());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut conn = db.get().unwrap();
                    for _ in 0..100 {
                        write_transaction(&mut conn, |c| {
                            let n = read_counter(c);
                            diesel::sql_query(format!("UPDATE counter SET n = {}", n + 1))
                                .execute(c)
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read_counter(&mut db.get().unwrap()), 800);
    }

    #[test]
    fn unreachable_postgres_names_the_backend() {
        let opts = PoolOptions {
            max_size: 1,
            acquire_timeout: Duration::from_millis(300),
        };
        let err = Db::connect("postgres://nobody@127.0.0.1:1/none", &opts)
            .err()
            .expect("connecting to a closed port must fail");
        assert!(err.to_string().contains("postgres"), "{err}");
    }
}
