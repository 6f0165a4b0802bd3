//! Database connection and migrations, for SQLite and PostgreSQL alike.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Creates the folder of a SQLite file URL, so that a fresh checkout can
/// `cargo run` with nothing set up.
fn ensure_sqlite_dir(url: &str) -> std::io::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    let file = std::path::Path::new(path);
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if !file.exists() {
        // SQLite gives its -wal and -shm files the database file's mode
        write_private(file, b"")?;
    }
    Ok(())
}

/// Creates (or truncates) a file only its owner can read and write: the
/// development JWT secret and the SQLite database hold secrets.
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Connects with a pool of `max_connections`. On PostgreSQL every
/// statement is bounded by `statement_timeout`; SQLite statements are
/// bounded by the request's own deadline, which drops them.
pub async fn connect(
    url: &str,
    max_connections: u32,
    statement_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    if is_sqlite(url) {
        ensure_sqlite_dir(url)
            .map_err(|e| DbErr::Custom(format!("cannot create the database folder: {e}")))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(move |o| {
            o.options([(
                "statement_timeout",
                format!("{}ms", statement_timeout.as_millis()),
            )])
        })
        .map_sqlx_sqlite_opts(|o| {
            // WAL lets readers run beside the single writer; the busy
            // timeout makes concurrent writers queue instead of failing.
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    Database::connect(opts).await
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Begins a transaction that will write. On SQLite it starts as the
/// writer (`BEGIN IMMEDIATE`), so a concurrent writer makes it wait on the
/// busy timeout; a deferred transaction that read first could not upgrade
/// and would fail with "database is locked". PostgreSQL ignores the mode.
pub async fn begin_write<C: sea_orm::TransactionTrait>(conn: &C) -> Result<C::Transaction, DbErr> {
    conn.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
