//! Budgets for password guesses. Each budget is a fixed window counted in
//! one row per key; taking from it is a single atomic upsert, so parallel
//! attempts can never all see "under the limit": at most `limit` of them
//! per window get to check a password.
//!
//! A login spends from three budgets: the account *from this address*
//! (so an attacker who knows an email cannot lock its owner out from
//! elsewhere), the address across all accounts (spraying), and the whole
//! instance (a distributed attack).
use sea_orm::{ConnectionTrait, Statement};

use crate::error::{AppError, AppResult};

pub struct Budget {
    prefix: &'static str,
    limit: i32,
    window_secs: i64,
}

/// Password guesses for one account from one client address.
pub const ACCOUNT_FROM_ADDRESS: Budget = Budget {
    prefix: "acct",
    limit: 5,
    window_secs: 15 * 60,
};
/// Password guesses from one client address, whatever the account.
pub const ADDRESS: Budget = Budget {
    prefix: "addr",
    limit: 30,
    window_secs: 15 * 60,
};
/// Password guesses on the whole instance.
pub const GLOBAL: Budget = Budget {
    prefix: "all",
    limit: 600,
    window_secs: 60,
};
/// Wrong current passwords given to `changePassword`, per user.
pub const PASSWORD_CHANGE: Budget = Budget {
    prefix: "pwchg",
    limit: 5,
    window_secs: 15 * 60,
};

fn row_key(budget: &Budget, key: &str) -> String {
    format!("{}:{}", budget.prefix, crate::auth::sha256_hex(key))
}

fn stmt<C: ConnectionTrait>(db: &C, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

/// Counts one attempt against `budget` for `key`; RATE_LIMITED (with
/// the seconds until the window ends) once the window's limit is spent.
pub async fn take<C: ConnectionTrait>(db: &C, budget: &Budget, key: &str) -> AppResult<()> {
    let now = chrono::Utc::now().timestamp();
    let expired = now.saturating_sub(budget.window_secs);
    let sql = "INSERT INTO login_throttles (throttle_key, hits, window_start) VALUES ($1, 1, $2) \
        ON CONFLICT (throttle_key) DO UPDATE SET \
        hits = CASE WHEN login_throttles.window_start <= $3 THEN 1 ELSE login_throttles.hits + 1 END, \
        window_start = CASE WHEN login_throttles.window_start <= $3 THEN $2 ELSE login_throttles.window_start END \
        RETURNING hits, window_start";
    let row = db
        .query_one_raw(stmt(
            db,
            sql,
            vec![row_key(budget, key).into(), now.into(), expired.into()],
        ))
        .await?
        .ok_or_else(|| AppError::Internal("the throttle upsert returned no row".into()))?;
    let hits: i32 = row.try_get("", "hits")?;
    let started: i64 = row.try_get("", "window_start")?;
    if hits > budget.limit {
        let retry = started
            .saturating_add(budget.window_secs)
            .saturating_sub(now)
            .max(1);
        return Err(AppError::RateLimited {
            retry_after_secs: retry,
        });
    }
    Ok(())
}

/// Gives back one attempt: a successful login is not a guess.
pub async fn give_back<C: ConnectionTrait>(db: &C, budget: &Budget, key: &str) -> AppResult<()> {
    let sql = "UPDATE login_throttles SET hits = hits - 1 WHERE throttle_key = $1 AND hits > 0";
    db.execute_raw(stmt(db, sql, vec![row_key(budget, key).into()]))
        .await?;
    Ok(())
}

/// Forgets a key's attempts: the owner proved the password.
pub async fn clear<C: ConnectionTrait>(db: &C, budget: &Budget, key: &str) -> AppResult<()> {
    let sql = "DELETE FROM login_throttles WHERE throttle_key = $1";
    db.execute_raw(stmt(db, sql, vec![row_key(budget, key).into()]))
        .await?;
    Ok(())
}

/// Drops windows that ended long ago, so the table stays small.
pub async fn prune<C: ConnectionTrait>(db: &C) -> AppResult<()> {
    let before = chrono::Utc::now().timestamp().saturating_sub(24 * 3600);
    let sql = "DELETE FROM login_throttles WHERE window_start < $1";
    db.execute_raw(stmt(db, sql, vec![before.into()])).await?;
    Ok(())
}
