//! Exchange rates into the tenant's currency.
use super::*;

/// The tenant's exchange rates.
pub async fn exchange_rates(
    state: &AppState,
    auth: AuthContext,
) -> AppResult<Vec<exchange_rate::Model>> {
    Ok(TenantScope(auth.tenant)
        .find::<exchange_rate::Entity>()
        .order_by_asc(exchange_rate::Column::Currency)
        .all(&state.db)
        .await?)
}

/// Sets the rate of a foreign currency into the tenant's currency: every
/// converted total (forecast, pipeline totals) uses it from now on.
pub async fn set_exchange_rate(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    currency: &str,
    rate: Decimal,
) -> AppResult<exchange_rate::Model> {
    let scope = TenantScope(auth.tenant);
    let currency = CurrencyCode::parse("currency", currency)?;
    if currency == settings.currency {
        return Err(AppError::bad_input(
            "currency",
            "the tenant's own currency needs no exchange rate",
        ));
    }
    let nanos = parse_rate("rate", rate)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let existing = scope
        .find::<exchange_rate::Entity>()
        .filter(exchange_rate::Column::Currency.eq(currency.as_str()))
        .one(&txn)
        .await?;
    let ts = now();
    match existing {
        Some(r) => {
            scope
                .update_many::<exchange_rate::Entity>()
                .col_expr(exchange_rate::Column::RateNanos, Expr::value(nanos))
                .col_expr(exchange_rate::Column::UpdatedAt, Expr::value(ts))
                .filter(exchange_rate::Column::Id.eq(r.id))
                .exec(&txn)
                .await?;
        }
        None => {
            scope
                .stamp(exchange_rate::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    currency: Set(currency.as_str().to_string()),
                    rate_nanos: Set(nanos),
                    updated_at: Set(ts),
                    ..Default::default()
                })
                .insert(&txn)
                .await?;
        }
    }
    let saved = scope
        .find::<exchange_rate::Entity>()
        .filter(exchange_rate::Column::Currency.eq(currency.as_str()))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("exchange rate"))?;
    txn.commit().await?;
    Ok(saved)
}

/// The stored rate of a currency, or None. The tenant currency needs none.
pub async fn has_rate<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    settings: &TenantSettings,
    currency: &CurrencyCode,
) -> AppResult<bool> {
    if *currency == settings.currency {
        return Ok(true);
    }
    Ok(scope
        .find::<exchange_rate::Entity>()
        .filter(exchange_rate::Column::Currency.eq(currency.as_str()))
        .one(conn)
        .await?
        .is_some())
}
