//! Database connection and migrations, for SQLite and PostgreSQL alike.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter,
};

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

/// Sets `app.tenant_id` on a connection about to serve some work, to the
/// tenant of that work ('' outside any request).
async fn set_tenant(conn: &mut sea_orm::sqlx::PgConnection) -> Result<(), sea_orm::sqlx::Error> {
    let tenant = crate::tenancy::request_tenant()
        .and_then(|t| t.tenant)
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    sea_orm::sqlx::query("SELECT set_config('app.tenant_id', $1, false)")
        .bind(tenant)
        .execute(conn)
        .await?;
    Ok(())
}

/// The pool the server's own queries run on. On PostgreSQL its
/// connections run as `app_role` (when set) and, each time one is handed
/// out, carry the tenant of the work that asked for it, which row-level
/// security enforces: the backstop under the application's own tenant
/// filter. SQLite has no such thing: the same pool as [`connect`].
pub async fn connect_app(
    url: &str,
    max_connections: u32,
    statement_timeout: Duration,
    app_role: Option<&str>,
) -> Result<DatabaseConnection, DbErr> {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    if is_sqlite(url) {
        return connect(url, max_connections, statement_timeout).await;
    }
    let mut options: PgConnectOptions = url
        .parse()
        .map_err(|e: sea_orm::sqlx::Error| DbErr::Custom(format!("DATABASE_URL: {e}")))?;
    options = options.options([(
        "statement_timeout",
        format!("{}ms", statement_timeout.as_millis()),
    )]);
    if let Some(role) = app_role {
        options = options.options([("role", role)]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // both run inside the task that asked for the connection, so
        // they see its tenant
        .after_connect(|conn, _| Box::pin(set_tenant(conn)))
        .before_acquire(|conn, _| {
            Box::pin(async move {
                set_tenant(conn).await?;
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e))))?;
    Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
        pool,
    ))
}

/// Creates the application role if it is missing and grants it what the
/// server does: reading and writing rows, nothing else (no DDL, owns
/// nothing, no BYPASSRLS). Run by the owner after migrating.
pub async fn ensure_app_role(owner: &DatabaseConnection, role: &str) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    // a role name cannot be bound as a parameter; it comes from our own
    // settings, and is refused unless it is a plain identifier
    if role.is_empty()
        || !role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(DbErr::Custom(format!(
            "DATABASE_APP_ROLE must be lower-case letters, digits and _, got {role:?}"
        )));
    }
    owner
        .execute_unprepared(&format!(
            "DO $$ BEGIN CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
        .await?;
    owner
        .execute_unprepared(&format!(
            "DO $$ BEGIN GRANT {role} TO CURRENT_USER; \
             EXCEPTION WHEN OTHERS THEN NULL; END $$; \
             GRANT USAGE ON SCHEMA public TO {role}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}; \
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}; \
             REVOKE ALL ON TABLE seaql_migrations FROM {role}"
        ))
        .await?;
    Ok(())
}

/// Claims up to `limit` rows of `E` that match `pending` and whose `mark`
/// does not yet hold their `due` value, by setting it, and answers them.
/// The mark condition is repeated outside the LIMIT subquery: of several
/// instances claiming at once, only one updates (and so answers) a row.
pub async fn claim<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    pending: Condition,
    id: E::Column,
    mark: E::Column,
    due: E::Column,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr> {
    let pending = pending.add(
        Condition::any()
            .add(mark.is_null())
            .add(Expr::col(mark).ne(Expr::col(due))),
    );
    let batch = Query::select()
        .column(id)
        .from(E::default())
        .cond_where(pending.clone())
        .limit(limit)
        .to_owned();
    E::update_many()
        .col_expr(mark, Expr::col(due))
        .filter(pending)
        .filter(id.in_subquery(batch))
        .exec_with_returning(db)
        .await
}
