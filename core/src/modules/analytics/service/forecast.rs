//! The forecast: potential and weighted potential by month, stage, owner, pipeline or source.
use super::*;

#[derive(Clone, Copy, Debug)]
pub struct ForecastParams {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: ForecastGroupBy,
    pub pipeline_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
}

/// Cents are in the tenant currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForecastTotals {
    pub open_count: i64,
    pub potential_cents: i64,
    pub weighted_cents: i64,
    pub won_count: i64,
    pub won_cents: i64,
}

impl AddAssign for ForecastTotals {
    fn add_assign(&mut self, o: Self) {
        self.open_count += o.open_count;
        self.potential_cents += o.potential_cents;
        self.weighted_cents += o.weighted_cents;
        self.won_count += o.won_count;
        self.won_cents += o.won_cents;
    }
}

#[derive(Clone, Debug)]
pub struct ForecastBucketData {
    pub key: String,
    pub label: String,
    pub totals: ForecastTotals,
}

#[derive(Clone, Debug)]
pub struct ForecastData {
    pub total: ForecastTotals,
    pub buckets: Vec<ForecastBucketData>,
}

/// A group as the SQL returns it: a month's index in the period, or the id
/// in the grouped column (null for no source).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum GroupKey {
    Month(i32),
    Id(Option<Uuid>),
}

/// The first days of the period's months, then that of the month after:
/// the bucket boundaries.
pub(super) struct MonthSplit {
    pub(super) firsts: Vec<NaiveDate>,
}

impl MonthSplit {
    pub(super) fn of(from: NaiveDate, to: NaiveDate) -> AppResult<Self> {
        let bad = || AppError::bad_input("to", "the period is out of range");
        let mut m = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).ok_or_else(bad)?;
        let mut firsts = Vec::new();
        while m <= to {
            firsts.push(m);
            m = m.checked_add_months(Months::new(1)).ok_or_else(bad)?;
        }
        firsts.push(m);
        Ok(Self { firsts })
    }

    pub(super) fn count(&self) -> usize {
        self.firsts.len() - 1
    }

    /// Month `i` for rows whose `before(first day of month i + 1)` holds,
    /// tried in order; rows are already within the period.
    pub(super) fn case(
        &self,
        before: impl Fn(NaiveDate) -> AppResult<Condition>,
    ) -> AppResult<Expr> {
        let mut case = CaseStatement::new();
        for (i, next) in self.firsts.iter().skip(1).enumerate() {
            case = case.case(before(*next)?, Expr::cust(i.to_string()));
        }
        Ok(case.into())
    }
}

/// The two statements a forecast runs: open opportunities due in the
/// period, and opportunities won in it, each grouped in SQL. Public so that
/// the benchmark can time them bare.
pub fn forecast_statements(
    backend: DbBackend,
    scope: TenantScope,
    settings: &TenantSettings,
    p: &ForecastParams,
) -> AppResult<[Statement; 2]> {
    let tz = zone(settings)?;
    let mut filters = Condition::all();
    if let Some(id) = p.pipeline_id {
        filters = filters.add(opportunity::Column::PipelineId.eq(id));
    }
    if let Some(id) = p.owner_id {
        filters = filters.add(opportunity::Column::OwnerId.eq(id));
    }
    let open = Condition::all()
        .add(opportunity::Column::Status.eq(opportunity::Status::Open))
        .add(opportunity::Column::DueDate.gte(p.from))
        .add(opportunity::Column::DueDate.lte(p.to))
        .add(filters.clone());
    let won = Condition::all()
        .add(opportunity::Column::Status.eq(opportunity::Status::Won))
        .add(instant_range(
            tz,
            opportunity::Column::ClosedAt,
            Some(p.from),
            Some(p.to),
        )?)
        .add(filters);
    let (open_key, won_key): (Expr, Expr) = match p.group_by {
        ForecastGroupBy::Month => {
            let months = MonthSplit::of(p.from, p.to)?;
            (
                months
                    .case(|next| Ok(Condition::all().add(opportunity::Column::DueDate.lt(next))))?,
                months.case(|next| {
                    Ok(
                        Condition::all()
                            .add(opportunity::Column::ClosedAt.lt(day_start(tz, next)?)),
                    )
                })?,
            )
        }
        ForecastGroupBy::Stage => by_column(opportunity::Column::StageId),
        ForecastGroupBy::Owner => by_column(opportunity::Column::OwnerId),
        ForecastGroupBy::Pipeline => by_column(opportunity::Column::PipelineId),
        ForecastGroupBy::Source => by_column(opportunity::Column::SourceId),
    };
    Ok([
        grouped(scope, settings, open, open_key).build(backend),
        grouped(scope, settings, won, won_key).build(backend),
    ])
}

/// Open and won rows grouped by the same column.
pub(super) fn by_column(c: opportunity::Column) -> (Expr, Expr) {
    let e = Expr::col((opportunity::Entity, c));
    (e.clone(), e)
}

/// Count, converted potential and weighted potential per `key`.
pub(super) fn grouped(
    scope: TenantScope,
    settings: &TenantSettings,
    cond: Condition,
    key: Expr,
) -> Select<opportunity::Entity> {
    let mut select = scope.find::<opportunity::Entity>().filter(cond);
    join_money(QueryTrait::query(&mut select));
    select
        .select_only()
        .column_as(key, "k")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(sum(&potential_sql(settings)), "p")
        .column_as(sum(&weighted_sql(settings)), "w")
        .group_by(Expr::cust("k"))
}

/// Runs a `grouped` statement: key → (count, potential, weighted).
pub(super) async fn run_grouped(
    db: &DatabaseConnection,
    stmt: Statement,
    month: bool,
) -> AppResult<HashMap<GroupKey, (i64, i64, i64)>> {
    let mut out = HashMap::new();
    for r in db.query_all_raw(stmt).await? {
        let key = if month {
            GroupKey::Month(r.try_get::<i32>("", "k")?)
        } else {
            GroupKey::Id(r.try_get::<Option<Uuid>>("", "k")?)
        };
        out.insert(
            key,
            (int_col(&r, "n")?, int_col(&r, "p")?, int_col(&r, "w")?),
        );
    }
    Ok(out)
}

/// The forecast: potential and weighted potential of the open opportunities
/// due in each bucket, converted into the tenant's currency and summed by
/// the database (rounded per row, so totals add up to the rows).
pub async fn forecast(
    db: &DatabaseConnection,
    auth: AuthContext,
    settings: &TenantSettings,
    p: ForecastParams,
) -> AppResult<ForecastData> {
    let scope = TenantScope(auth.tenant);
    check_order(Some(p.from), Some(p.to))?;
    let limit = p
        .from
        .checked_add_months(Months::new(MAX_FORECAST_MONTHS))
        .ok_or_else(|| AppError::bad_input("from", "from is out of range"))?;
    if p.to >= limit {
        return Err(AppError::bad_input(
            "to",
            "the period must not be longer than 5 years",
        ));
    }
    if let Some(id) = p.pipeline_id {
        find_pipeline(db, scope, id).await?;
    }
    if let Some(id) = p.owner_id {
        find_user(db, scope, id).await?;
    }
    let month = p.group_by == ForecastGroupBy::Month;
    let [open_stmt, won_stmt] =
        forecast_statements(db.get_database_backend(), scope, settings, &p)?;
    let open = run_grouped(db, open_stmt, month).await?;
    let won = run_grouped(db, won_stmt, month).await?;

    let mut totals: HashMap<GroupKey, ForecastTotals> = HashMap::new();
    for (k, (n, pot, w)) in open {
        let t = totals.entry(k).or_default();
        t.open_count = n;
        t.potential_cents = pot;
        t.weighted_cents = w;
    }
    for (k, (n, pot, _)) in won {
        let t = totals.entry(k).or_default();
        t.won_count = n;
        t.won_cents = pot;
    }
    let buckets = if month {
        month_buckets(p.from, p.to, &totals)?
    } else {
        named_buckets(db, scope, p.group_by, &totals).await?
    };
    let mut total = ForecastTotals::default();
    for b in &buckets {
        total += b.totals;
    }
    Ok(ForecastData { total, buckets })
}

pub(super) fn month_buckets(
    from: NaiveDate,
    to: NaiveDate,
    totals: &HashMap<GroupKey, ForecastTotals>,
) -> AppResult<Vec<ForecastBucketData>> {
    let months = MonthSplit::of(from, to)?;
    // every first day but the last, which only closes the final month
    Ok(months
        .firsts
        .iter()
        .take(months.count())
        .enumerate()
        .map(|(i, first)| ForecastBucketData {
            key: first.format("%Y-%m").to_string(),
            label: first.format("%B %Y").to_string(),
            totals: i32::try_from(i)
                .ok()
                .and_then(|i| totals.get(&GroupKey::Month(i)))
                .copied()
                .unwrap_or_default(),
        })
        .collect())
}

/// Names the id groups and puts them in the order the client shows them:
/// board order for stages and pipelines, names for owners and sources.
pub(super) async fn named_buckets(
    db: &DatabaseConnection,
    scope: TenantScope,
    group_by: ForecastGroupBy,
    totals: &HashMap<GroupKey, ForecastTotals>,
) -> AppResult<Vec<ForecastBucketData>> {
    let ids: Vec<Uuid> = totals
        .keys()
        .filter_map(|k| match k {
            GroupKey::Id(Some(id)) => Some(*id),
            _ => None,
        })
        .collect();
    // (sort key, label) per id
    let mut names: HashMap<Uuid, ((i64, i64, String), String)> = HashMap::new();
    match group_by {
        ForecastGroupBy::Stage => {
            let stages = scope
                .find::<stage::Entity>()
                .filter(stage::Column::Id.is_in(ids))
                .all(db)
                .await?;
            let pipelines: HashMap<Uuid, i64> = scope
                .find::<pipeline::Entity>()
                .filter(pipeline::Column::Id.is_in(stages.iter().map(|s| s.pipeline_id)))
                .all(db)
                .await?
                .into_iter()
                .map(|p| (p.id, i64::from(p.position)))
                .collect();
            for s in stages {
                let order = (
                    pipelines.get(&s.pipeline_id).copied().unwrap_or(i64::MAX),
                    i64::from(s.position),
                    s.name.to_lowercase(),
                );
                names.insert(s.id, (order, s.name));
            }
        }
        ForecastGroupBy::Pipeline => {
            for p in scope
                .find::<pipeline::Entity>()
                .filter(pipeline::Column::Id.is_in(ids))
                .all(db)
                .await?
            {
                names.insert(p.id, ((i64::from(p.position), 0, String::new()), p.name));
            }
        }
        ForecastGroupBy::Owner => {
            for u in scope
                .find::<user::Entity>()
                .filter(user::Column::Id.is_in(ids))
                .all(db)
                .await?
            {
                names.insert(u.id, ((0, 0, u.name.to_lowercase()), u.name));
            }
        }
        // months are named by `month_buckets`
        ForecastGroupBy::Month => {}
        ForecastGroupBy::Source => {
            for s in scope
                .find::<source::Entity>()
                .filter(source::Column::Id.is_in(ids))
                .all(db)
                .await?
            {
                names.insert(s.id, ((0, 0, s.name.to_lowercase()), s.name));
            }
        }
    }
    let mut rows: Vec<((i64, i64, String), ForecastBucketData)> = totals
        .iter()
        .map(|(k, t)| {
            let (order, key, label) = match k {
                GroupKey::Id(Some(id)) => match names.get(id) {
                    Some((order, label)) => (order.clone(), id.to_string(), label.clone()),
                    None => ((i64::MAX, 0, String::new()), id.to_string(), id.to_string()),
                },
                // only sources are nullable
                _ => (
                    (i64::MAX, i64::MAX, String::new()),
                    "none".to_string(),
                    "No source".to_string(),
                ),
            };
            (
                order,
                ForecastBucketData {
                    key,
                    label,
                    totals: *t,
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
    Ok(rows.into_iter().map(|r| r.1).collect())
}
