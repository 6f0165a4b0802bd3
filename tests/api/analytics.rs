//! Analytics on generated data. A tenant gets a few hundred opportunities
//! through the API (moves, wins, losses, three currencies, some without a
//! source); their timestamps are then spread over the past year straight in
//! the database, since the API stamps everything "now". Each query is
//! compared with a plain computation over the data read back through the
//! API.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use entity::{opportunity, stage_change};
use futures_util::future::join_all;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dual_test;
use crate::helpers::{Session, TestApp, code, field};
use crate::pipelines::{sales_pipeline, source_ids};

const ZONE: &str = "Pacific/Auckland";
const OPPORTUNITIES: usize = 200;
const BATCH: usize = 16;

/// splitmix64: a fixed seed gives the same data on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let v = app.gql(Some(token), query, vars).await;
    assert!(v["errors"].is_null(), "{query}: {v}");
    v["data"].clone()
}

fn cents(money: &Value) -> i64 {
    (Decimal::from_str(money["amount"].as_str().unwrap()).unwrap() * Decimal::ONE_HUNDRED)
        .to_i64()
        .unwrap()
}

fn date(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap()
}

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn local_day(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

fn month_of(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap()
}

fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// Exact conversion, rounding half up (amounts are never negative).
fn convert(cents: i64, rate_nanos: i64) -> i64 {
    ((i128::from(cents) * i128::from(rate_nanos) + 500_000_000) / 1_000_000_000) as i64
}

// ------------------------------------------------------------------ set-up

/// What the generator made, by id.
struct Setup {
    admin: Session,
    tz: Tz,
    /// (pipeline id, its stage ids in order)
    pipelines: Vec<(String, Vec<String>)>,
    owners: Vec<String>,
    /// The archived source that has opportunities.
    archived_used: String,
    /// A live source without opportunities.
    unused: String,
    /// An archived source without opportunities.
    archived_unused: String,
}

const CREATE: &str =
    "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }";
const MOVE: &str = "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }";
const WON: &str = "mutation($id: ID!) { markOpportunityWon(id: $id) { id } }";
const LOST: &str = "mutation($id: ID!) { markOpportunityLost(id: $id, reason: \"Budget\") { id } }";

async fn create_source(app: &TestApp, token: &str, name: &str) -> String {
    let d = ok(
        app,
        token,
        "mutation($n: String!) { createSource(name: $n) { id } }",
        json!({ "n": name }),
    )
    .await;
    s(&d["createSource"]["id"])
}

async fn archive_source(app: &TestApp, token: &str, id: &str) {
    ok(
        app,
        token,
        "mutation($id: ID!) { updateSource(id: $id, archived: true) { id } }",
        json!({ "id": id }),
    )
    .await;
}

async fn create_user(app: &TestApp, token: &str, email: &str, name: &str, role: &str) -> String {
    let d = ok(
        app,
        token,
        "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
        json!({ "i": { "email": email, "name": name, "role": role, "password": crate::helpers::PASSWORD } }),
    )
    .await;
    s(&d["createUser"]["id"])
}

async fn populate(app: &TestApp, seed: u64) -> Setup {
    let admin = app.sign_up("Analytics Co", "ann@analytics.co").await;
    let t = &admin.token;
    ok(
        app,
        t,
        "mutation($z: String!) { updateTenant(input: { timezone: $z }) { timezone } }",
        json!({ "z": ZONE }),
    )
    .await;
    for (c, r) in [("USD", "0.923456789"), ("GBP", "1.171717171")] {
        ok(
            app,
            t,
            "mutation($c: String!, $r: Decimal!) { setExchangeRate(currency: $c, rate: $r) { rate } }",
            json!({ "c": c, "r": r }),
        )
        .await;
    }
    let owners = vec![
        admin.user_id.clone(),
        create_user(app, t, "zoe@analytics.co", "Zoe Seller", "SALES").await,
        create_user(app, t, "max@analytics.co", "max Manager", "MANAGER").await,
    ];
    let (sales, sales_stages) = sales_pipeline(app, t).await;
    let d = ok(
        app,
        t,
        "mutation($i: CreatePipelineInput!) { createPipeline(input: $i) { id stages { id } } }",
        json!({ "i": { "name": "Partners", "stages": [
            { "name": "Lead", "probability": 10 },
            { "name": "Pitch", "probability": 45 },
            { "name": "Contract", "probability": 85 }
        ] } }),
    )
    .await;
    let partners = (
        s(&d["createPipeline"]["id"]),
        d["createPipeline"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| s(&x["id"]))
            .collect::<Vec<_>>(),
    );
    let pipelines = vec![(sales, sales_stages), partners];
    let mut sources = source_ids(app, t).await;
    let archived_used = create_source(app, t, "Trade fair").await;
    sources.push(archived_used.clone());
    let unused = create_source(app, t, "podcast").await;
    let archived_unused = create_source(app, t, "Old list").await;

    let mut rng = Rng(seed);
    let today = Utc::now()
        .with_timezone(&ZONE.parse::<Tz>().unwrap())
        .date_naive();
    // one plan per opportunity: its creation, then its moves and its close
    let mut plans = Vec::new();
    for _ in 0..OPPORTUNITIES {
        let p = if rng.chance(70) { 0 } else { 1 };
        let stages = &pipelines[p].1;
        let mut input = json!({
            "title": format!("Deal {}", rng.below(1_000_000)),
            "stageId": rng.pick(stages),
            "potential": format!("{}.{:03}", rng.range(0, 60_000), rng.below(1000)),
            "currency": *rng.pick(&["EUR", "EUR", "EUR", "USD", "GBP"]),
            "ownerId": rng.pick(&owners),
        });
        if rng.chance(85) {
            input["dueDate"] = json!((today + Duration::days(rng.range(-300, 300))).to_string());
        }
        if rng.chance(75) {
            input["sourceId"] = json!(rng.pick(&sources));
        }
        if rng.chance(15) {
            input["probabilityOverride"] = json!(rng.range(0, 100));
        }
        let mut moves = Vec::new();
        for _ in 0..rng.below(4) {
            let target = if rng.chance(10) { 1 - p } else { p };
            moves.push(rng.pick(&pipelines[target].1).clone());
        }
        let close = match rng.below(100) {
            0..30 => Some(WON),
            30..45 => Some(LOST),
            _ => None,
        };
        plans.push((input, moves, close));
    }
    for chunk in plans.chunks(BATCH) {
        join_all(chunk.iter().map(|(input, moves, close)| async move {
            let d = ok(app, t, CREATE, json!({ "i": input })).await;
            let id = s(&d["createOpportunity"]["id"]);
            for m in moves {
                ok(app, t, MOVE, json!({ "id": id, "s": m })).await;
            }
            if let Some(q) = close {
                ok(app, t, q, json!({ "id": id })).await;
            }
        }))
        .await;
    }
    archive_source(app, t, &archived_used).await;
    archive_source(app, t, &archived_unused).await;
    let tz: Tz = ZONE.parse().unwrap();
    spread_over_time(app, &admin, tz, &mut rng).await;
    Setup {
        admin,
        tz,
        pipelines,
        owners,
        archived_used,
        unused,
        archived_unused,
    }
}

/// Lays each opportunity's history out over the past months: its stage
/// changes hours to weeks apart, its close last. Some closes fall exactly
/// on, or a second either side of, a month's start in the tenant's zone.
async fn spread_over_time(app: &TestApp, admin: &Session, tz: Tz, rng: &mut Rng) {
    let db = app.db().await;
    let tenant = Uuid::parse_str(&admin.tenant_id).unwrap();
    let opps = opportunity::Entity::find()
        .filter(opportunity::Column::TenantId.eq(tenant))
        .order_by_asc(opportunity::Column::Number)
        .all(&db)
        .await
        .unwrap();
    let changes = stage_change::Entity::find()
        .filter(stage_change::Column::TenantId.eq(tenant))
        .order_by_asc(stage_change::Column::ChangedAt)
        .order_by_asc(stage_change::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let mut by_opp: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for c in changes {
        by_opp.entry(c.opportunity_id).or_default().push(c.id);
    }
    let now = Utc::now();
    let this_month = month_of(local_day(tz, now));
    let txn = db.begin().await.unwrap();
    for o in opps {
        let ids = &by_opp[&o.id];
        let closed = o.status != entity::opportunity::Status::Open;
        let events = ids.len() + usize::from(closed);
        let last = if closed && rng.chance(15) {
            let month = this_month - Months::new(rng.range(0, 9) as u32);
            day_start(tz, month) + Duration::seconds(rng.range(-1, 1))
        } else {
            now - Duration::seconds(rng.range(60, 200 * 86_400))
                - Duration::microseconds(rng.range(0, 999_999))
        };
        let mut times = vec![last; events];
        for i in (0..events - 1).rev() {
            times[i] = times[i + 1] - Duration::seconds(rng.range(3_600, 25 * 86_400));
        }
        for (id, at) in ids.iter().zip(&times) {
            stage_change::Entity::update_many()
                .col_expr(stage_change::Column::ChangedAt, Expr::value(*at))
                .filter(stage_change::Column::Id.eq(*id))
                .exec(&txn)
                .await
                .unwrap();
        }
        let mut update = opportunity::Entity::update_many()
            .col_expr(opportunity::Column::CreatedAt, Expr::value(times[0]))
            .col_expr(
                opportunity::Column::StageEnteredAt,
                Expr::value(times[ids.len() - 1]),
            )
            .filter(opportunity::Column::Id.eq(o.id));
        if closed {
            update = update.col_expr(opportunity::Column::ClosedAt, Expr::value(Some(last)));
        }
        update.exec(&txn).await.unwrap();
    }
    txn.commit().await.unwrap();
    db.close().await.ok();
}

// ------------------------------------------------------- reading it all back

struct Change {
    stage: String,
    position: i64,
    pipeline: String,
    at: DateTime<Utc>,
}

struct Opp {
    status: String,
    potential: i64,
    weighted: i64,
    due: Option<NaiveDate>,
    closed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    pipeline: String,
    stage: String,
    owner: String,
    source: Option<String>,
    history: Vec<Change>,
}

impl Opp {
    fn is_open(&self) -> bool {
        self.status == "OPEN" || self.status == "LATE"
    }
}

struct Data {
    opps: Vec<Opp>,
    /// id → (name, pipeline position, stage position)
    stages: HashMap<String, (String, i64, i64)>,
    /// live stages per pipeline, in order
    pipeline_stages: HashMap<String, Vec<String>>,
    pipeline_names: HashMap<String, (String, i64)>,
    users: HashMap<String, String>,
    /// (id, name, archived), by name
    sources: Vec<(String, String, bool)>,
}

const OPP_FIELDS: &str = "id status potential { amount currency } weightedPotential { amount currency } dueDate closedAt createdAt pipeline { id } stage { id } owner { id } source { id } stageHistory { toStage { id position pipeline { id } } changedAt }";

async fn read_back(app: &TestApp, token: &str) -> Data {
    let d = ok(app, token, "{ exchangeRates { currency rate } }", json!({})).await;
    let mut rates: HashMap<String, i64> = HashMap::new();
    for r in d["exchangeRates"].as_array().unwrap() {
        let nanos = (Decimal::from_str(r["rate"].as_str().unwrap()).unwrap()
            * Decimal::from(1_000_000_000))
        .to_i64()
        .unwrap();
        rates.insert(s(&r["currency"]), nanos);
    }
    rates.insert("EUR".into(), 1_000_000_000);
    let mut opps = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = ok(
            app,
            token,
            &format!("query($a: String) {{ opportunities(first: 50, after: $a) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {OPP_FIELDS} }} }} }} }}"),
            json!({ "a": after }),
        )
        .await;
        let conn = &d["opportunities"];
        for e in conn["edges"].as_array().unwrap() {
            let n = &e["node"];
            let rate = rates[n["potential"]["currency"].as_str().unwrap()];
            opps.push(Opp {
                status: s(&n["status"]),
                potential: convert(cents(&n["potential"]), rate),
                weighted: convert(cents(&n["weightedPotential"]), rate),
                due: (!n["dueDate"].is_null()).then(|| date(&n["dueDate"])),
                closed_at: (!n["closedAt"].is_null()).then(|| instant(&n["closedAt"])),
                created_at: instant(&n["createdAt"]),
                pipeline: s(&n["pipeline"]["id"]),
                stage: s(&n["stage"]["id"]),
                owner: s(&n["owner"]["id"]),
                source: n["source"]["id"].as_str().map(str::to_string),
                history: n["stageHistory"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| Change {
                        stage: s(&h["toStage"]["id"]),
                        position: h["toStage"]["position"].as_i64().unwrap(),
                        pipeline: s(&h["toStage"]["pipeline"]["id"]),
                        at: instant(&h["changedAt"]),
                    })
                    .collect(),
            });
        }
        if conn["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = Some(s(&conn["pageInfo"]["endCursor"]));
    }
    let d = ok(
        app,
        token,
        "{ pipelines(includeArchived: true) { id name position stages { id name position } } users { id name } sources(includeArchived: true) { id name archived } }",
        json!({}),
    )
    .await;
    let mut stages = HashMap::new();
    let mut pipeline_stages = HashMap::new();
    let mut pipeline_names = HashMap::new();
    for p in d["pipelines"].as_array().unwrap() {
        let pos = p["position"].as_i64().unwrap();
        pipeline_names.insert(s(&p["id"]), (s(&p["name"]), pos));
        let mut ids = Vec::new();
        for st in p["stages"].as_array().unwrap() {
            stages.insert(
                s(&st["id"]),
                (s(&st["name"]), pos, st["position"].as_i64().unwrap()),
            );
            ids.push(s(&st["id"]));
        }
        pipeline_stages.insert(s(&p["id"]), ids);
    }
    let users = d["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (s(&u["id"]), s(&u["name"])))
        .collect();
    let sources = d["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (s(&x["id"]), s(&x["name"]), x["archived"] == json!(true)))
        .collect();
    Data {
        opps,
        stages,
        pipeline_stages,
        pipeline_names,
        users,
        sources,
    }
}

// ----------------------------------------------------------------- forecast

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Fc {
    open: i64,
    potential: i64,
    weighted: i64,
    won: i64,
    won_amount: i64,
}

impl Fc {
    fn of(b: &Value) -> Self {
        Self {
            open: b["openCount"].as_i64().unwrap(),
            potential: cents(&b["potential"]),
            weighted: cents(&b["weightedPotential"]),
            won: b["wonCount"].as_i64().unwrap(),
            won_amount: cents(&b["wonAmount"]),
        }
    }
    fn add(&mut self, o: &Fc) {
        self.open += o.open;
        self.potential += o.potential;
        self.weighted += o.weighted;
        self.won += o.won;
        self.won_amount += o.won_amount;
    }
}

const FORECAST: &str = "query($i: ForecastInput!) { forecast(input: $i) { currency total { key label openCount potential { amount currency } weightedPotential { amount } wonCount wonAmount { amount currency } } buckets { key label openCount potential { amount currency } weightedPotential { amount } wonCount wonAmount { amount currency } } } }";

struct ForecastCase<'a> {
    from: NaiveDate,
    to: NaiveDate,
    group: &'a str,
    pipeline: Option<&'a str>,
    owner: Option<&'a str>,
}

fn group_key(o: &Opp, group: &str, month: NaiveDate) -> String {
    match group {
        "MONTH" => month.format("%Y-%m").to_string(),
        "STAGE" => o.stage.clone(),
        "OWNER" => o.owner.clone(),
        "PIPELINE" => o.pipeline.clone(),
        "SOURCE" => o.source.clone().unwrap_or_else(|| "none".into()),
        _ => unreachable!(),
    }
}

fn expected_forecast(data: &Data, tz: Tz, c: &ForecastCase) -> BTreeMap<String, Fc> {
    let mut out: BTreeMap<String, Fc> = BTreeMap::new();
    if c.group == "MONTH" {
        let mut m = month_of(c.from);
        while m <= c.to {
            out.insert(m.format("%Y-%m").to_string(), Fc::default());
            m = m + Months::new(1);
        }
    }
    for o in &data.opps {
        if c.pipeline.is_some_and(|p| p != o.pipeline) || c.owner.is_some_and(|u| u != o.owner) {
            continue;
        }
        if let Some(due) = o.due.filter(|d| o.is_open() && (c.from..=c.to).contains(d)) {
            let b = out.entry(group_key(o, c.group, month_of(due))).or_default();
            b.open += 1;
            b.potential += o.potential;
            b.weighted += o.weighted;
        }
        if o.status == "WON" {
            let day = local_day(tz, o.closed_at.unwrap());
            if (c.from..=c.to).contains(&day) {
                let b = out.entry(group_key(o, c.group, month_of(day))).or_default();
                b.won += 1;
                b.won_amount += o.potential;
            }
        }
    }
    out
}

fn expected_label(data: &Data, group: &str, key: &str) -> String {
    match group {
        "MONTH" => NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d")
            .unwrap()
            .format("%B %Y")
            .to_string(),
        "STAGE" => data.stages[key].0.clone(),
        "OWNER" => data.users[key].clone(),
        "PIPELINE" => data.pipeline_names[key].0.clone(),
        "SOURCE" if key == "none" => "No source".into(),
        "SOURCE" => data.sources.iter().find(|x| x.0 == key).unwrap().1.clone(),
        _ => unreachable!(),
    }
}

async fn check_forecast(
    app: &TestApp,
    token: &str,
    data: &Data,
    tz: Tz,
    c: ForecastCase<'_>,
) -> Fc {
    let mut input = json!({ "from": c.from.to_string(), "to": c.to.to_string(), "pipelineId": c.pipeline, "ownerId": c.owner });
    // MONTH is the default
    if c.group != "MONTH" {
        input["groupBy"] = json!(c.group);
    }
    let d = ok(app, token, FORECAST, json!({ "i": input })).await;
    let f = &d["forecast"];
    let what = format!(
        "{} {}..{} {:?} {:?}",
        c.group, c.from, c.to, c.pipeline, c.owner
    );
    assert_eq!(f["currency"], "EUR");
    let expected = expected_forecast(data, tz, &c);
    let buckets = f["buckets"].as_array().unwrap();
    let keys: Vec<String> = buckets.iter().map(|b| s(&b["key"])).collect();
    assert_eq!(
        keys.iter().collect::<HashSet<_>>().len(),
        keys.len(),
        "{what}: keys repeat"
    );
    let actual: BTreeMap<String, Fc> = buckets.iter().map(|b| (s(&b["key"]), Fc::of(b))).collect();
    assert_eq!(actual, expected, "{what}");
    let mut total = Fc::default();
    for b in buckets {
        total.add(&Fc::of(b));
        assert_eq!(
            s(&b["label"]),
            expected_label(data, c.group, b["key"].as_str().unwrap()),
            "{what}"
        );
        assert_eq!(b["potential"]["currency"], "EUR");
        assert_eq!(b["wonAmount"]["currency"], "EUR");
    }
    assert_eq!(Fc::of(&f["total"]), total, "{what}: total");
    assert_eq!(f["total"]["key"], "total");
    // the order clients show
    let order: Vec<(i64, i64, String)> = keys
        .iter()
        .map(|k| match c.group {
            "MONTH" => (0, 0, k.clone()),
            "STAGE" => (data.stages[k].1, data.stages[k].2, String::new()),
            "PIPELINE" => (data.pipeline_names[k].1, 0, String::new()),
            "OWNER" => (0, 0, data.users[k].to_lowercase()),
            _ if k == "none" => (1, 0, String::new()),
            _ => (0, 0, expected_label(data, "SOURCE", k).to_lowercase()),
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "{what}: order");
    total
}

// ------------------------------------------------------- source performance

const SOURCE_PERFORMANCE: &str = "query($f: Date, $t: Date, $p: ID) { sourcePerformance(from: $f, to: $t, pipelineId: $p) { source { id name archived } opportunities open won lost winRate wonAmount { amount currency } openWeightedPotential { amount currency } } }";

async fn check_source_performance(
    app: &TestApp,
    token: &str,
    data: &Data,
    tz: Tz,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    pipeline: Option<&str>,
) {
    let what = format!("{from:?}..{to:?} {pipeline:?}");
    let d = ok(
        app,
        token,
        SOURCE_PERFORMANCE,
        json!({ "f": from.map(|d| d.to_string()), "t": to.map(|d| d.to_string()), "p": pipeline }),
    )
    .await;
    // (opportunities, open, won, lost, won amount, open weighted)
    let mut stats: HashMap<Option<String>, [i64; 6]> = HashMap::new();
    for o in &data.opps {
        let day = local_day(tz, o.created_at);
        if from.is_some_and(|f| day < f)
            || to.is_some_and(|t| day > t)
            || pipeline.is_some_and(|p| p != o.pipeline)
        {
            continue;
        }
        let e = stats.entry(o.source.clone()).or_default();
        e[0] += 1;
        if o.is_open() {
            e[1] += 1;
            e[5] += o.weighted;
        }
        if o.status == "WON" {
            e[2] += 1;
            e[4] += o.potential;
        }
        if o.status == "LOST" {
            e[3] += 1;
        }
    }
    let mut expected: Vec<(Option<String>, [i64; 6])> = Vec::new();
    let mut sources = data.sources.clone();
    sources.sort_by_key(|x| x.1.to_lowercase());
    for (id, _, archived) in sources {
        let st = stats.get(&Some(id.clone())).copied();
        if archived && st.is_none() {
            continue;
        }
        expected.push((Some(id), st.unwrap_or_default()));
    }
    expected.push((None, stats.get(&None).copied().unwrap_or_default()));
    let rows = d["sourcePerformance"].as_array().unwrap();
    let actual: Vec<(Option<String>, [i64; 6])> = rows
        .iter()
        .map(|r| {
            (
                r["source"]["id"].as_str().map(str::to_string),
                [
                    r["opportunities"].as_i64().unwrap(),
                    r["open"].as_i64().unwrap(),
                    r["won"].as_i64().unwrap(),
                    r["lost"].as_i64().unwrap(),
                    cents(&r["wonAmount"]),
                    cents(&r["openWeightedPotential"]),
                ],
            )
        })
        .collect();
    assert_eq!(actual, expected, "{what}");
    for r in rows {
        let (won, lost) = (r["won"].as_f64().unwrap(), r["lost"].as_f64().unwrap());
        let rate = if won + lost == 0.0 {
            0.0
        } else {
            won / (won + lost)
        };
        assert!(
            (r["winRate"].as_f64().unwrap() - rate).abs() < 1e-9,
            "{what}: {r}"
        );
    }
}

// ------------------------------------------------------------------- funnel

const FUNNEL: &str = "query($p: ID!, $f: Date, $t: Date, $s: ID, $o: ID) { funnel(pipelineId: $p, from: $f, to: $t, sourceId: $s, ownerId: $o) { stage { id name position } entered advanced won lost conversionRate averageDaysInStage } }";

#[derive(Default)]
struct FunnelCase<'a> {
    pipeline: &'a str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    source: Option<&'a str>,
    owner: Option<&'a str>,
}

async fn check_funnel(app: &TestApp, token: &str, data: &Data, tz: Tz, c: FunnelCase<'_>) {
    let what = format!(
        "{} {:?}..{:?} {:?} {:?}",
        c.pipeline, c.from, c.to, c.source, c.owner
    );
    let d = ok(
        app,
        token,
        FUNNEL,
        json!({ "p": c.pipeline, "f": c.from.map(|d| d.to_string()), "t": c.to.map(|d| d.to_string()), "s": c.source, "o": c.owner }),
    )
    .await;
    let now = Utc::now();
    let rows = d["funnel"].as_array().unwrap();
    let stage_ids: Vec<String> = rows.iter().map(|r| s(&r["stage"]["id"])).collect();
    assert_eq!(stage_ids, data.pipeline_stages[c.pipeline], "{what}");
    let mut total_entered = 0;
    for r in rows {
        let stage = s(&r["stage"]["id"]);
        let position = data.stages[&stage].2;
        let (mut entered, mut advanced, mut won, mut lost) = (0, 0, 0, 0);
        let mut days = Vec::new();
        for o in &data.opps {
            if c.source.is_some_and(|x| Some(x) != o.source.as_deref())
                || c.owner.is_some_and(|x| x != o.owner)
            {
                continue;
            }
            let visits: Vec<usize> = (0..o.history.len())
                .filter(|&i| {
                    let h = &o.history[i];
                    let day = local_day(tz, h.at);
                    h.stage == stage
                        && c.from.is_none_or(|f| day >= f)
                        && c.to.is_none_or(|t| day <= t)
                })
                .collect();
            let Some(&first) = visits.first() else {
                continue;
            };
            entered += 1;
            let went_on = o.history[first + 1..]
                .iter()
                .any(|h| h.pipeline == c.pipeline && h.position > position);
            if o.status == "WON" || went_on {
                advanced += 1;
            }
            won += i64::from(o.status == "WON");
            lost += i64::from(o.status == "LOST");
            for i in visits {
                let start = o.history[i].at;
                let end = match (o.history.get(i + 1), o.closed_at) {
                    (Some(next), _) => next.at,
                    (None, Some(closed)) => closed.max(start),
                    (None, None) => now,
                };
                days.push((end - start).num_microseconds().unwrap() as f64 / 86_400e6);
            }
        }
        total_entered += entered;
        let got = |k: &str| r[k].as_i64().unwrap();
        assert_eq!(
            [got("entered"), got("advanced"), got("won"), got("lost")],
            [entered, advanced, won, lost],
            "{what}: stage {}",
            r["stage"]["name"]
        );
        let rate = if entered == 0 {
            0.0
        } else {
            advanced as f64 / entered as f64
        };
        assert!((r["conversionRate"].as_f64().unwrap() - rate).abs() < 1e-9);
        if days.is_empty() {
            assert!(r["averageDaysInStage"].is_null(), "{what}: {r}");
        } else {
            let mean = days.iter().sum::<f64>() / days.len() as f64;
            let got = r["averageDaysInStage"].as_f64().unwrap();
            // "now" is read a moment apart by the server and the test
            assert!((got - mean).abs() < 1e-3, "{what}: {got} vs {mean}");
        }
    }
    assert!(
        c.from.is_some() || total_entered > 0,
        "{what}: nothing entered"
    );
}

// -------------------------------------------------------------------- tests

dual_test!(analytics_match_a_reference_computation, |app| {
    let setup = populate(&app, 0x5EED_2026).await;
    let t = setup.admin.token.clone();
    let tz = setup.tz;
    let data = read_back(&app, &t).await;
    assert_eq!(data.opps.len(), OPPORTUNITIES);
    let won = data.opps.iter().filter(|o| o.status == "WON").count();
    let lost = data.opps.iter().filter(|o| o.status == "LOST").count();
    let unsourced = data.opps.iter().filter(|o| o.source.is_none()).count();
    assert!(
        won > 30 && lost > 10 && unsourced > 20,
        "{won} {lost} {unsourced}"
    );

    let today = local_day(tz, Utc::now());
    let from = month_of(today) - Months::new(9) + Duration::days(14);
    let to = month_of(today) + Months::new(5) + Duration::days(9);
    let (sales, partners) = (&setup.pipelines[0].0, &setup.pipelines[1].0);
    // some wins fall on a month's start in the tenant's zone, or a second off
    let on_edge = data
        .opps
        .iter()
        .filter_map(|o| o.closed_at.filter(|_| o.status == "WON"))
        .filter(|at| {
            let start = day_start(tz, month_of(local_day(tz, *at + Duration::seconds(1))));
            (*at - start).num_seconds().abs() <= 1
        })
        .count();
    assert!(on_edge >= 3, "{on_edge} wins on a month's edge");
    for group in ["MONTH", "STAGE", "OWNER", "PIPELINE", "SOURCE"] {
        let c = ForecastCase {
            from,
            to,
            group,
            pipeline: None,
            owner: None,
        };
        let total = check_forecast(&app, &t, &data, tz, c).await;
        assert!(total.open > 20 && total.won > 20, "{total:?}");
    }
    for (group, pipeline, owner) in [
        ("MONTH", Some(partners.as_str()), None),
        (
            "STAGE",
            Some(sales.as_str()),
            Some(setup.owners[1].as_str()),
        ),
        ("SOURCE", None, Some(setup.owners[2].as_str())),
    ] {
        let c = ForecastCase {
            from: today - Duration::days(400),
            to: today + Duration::days(30),
            group,
            pipeline,
            owner,
        };
        check_forecast(&app, &t, &data, tz, c).await;
    }
    // a single day, and exactly 5 years with every month present
    for (from, to) in [
        (today, today),
        (
            month_of(today),
            month_of(today) + Months::new(60) - Duration::days(1),
        ),
    ] {
        let c = ForecastCase {
            from,
            to,
            group: "MONTH",
            pipeline: None,
            owner: None,
        };
        check_forecast(&app, &t, &data, tz, c).await;
    }
    let long = ok(
        &app,
        &t,
        FORECAST,
        json!({ "i": { "from": month_of(today).to_string(), "to": (month_of(today) + Months::new(60) - Duration::days(1)).to_string() } }),
    )
    .await;
    assert_eq!(long["forecast"]["buckets"].as_array().unwrap().len(), 60);
    let last = &long["forecast"]["buckets"][59];
    assert_eq!(
        Fc::of(last),
        Fc::default(),
        "a month far ahead is there, empty"
    );

    for (from, to, p) in [
        (None, None, None),
        (Some(from), Some(to), None),
        (
            Some(today - Duration::days(120)),
            None,
            Some(sales.as_str()),
        ),
        (
            None,
            Some(today - Duration::days(60)),
            Some(partners.as_str()),
        ),
    ] {
        check_source_performance(&app, &t, &data, tz, from, to, p).await;
    }
    let all = ok(&app, &t, SOURCE_PERFORMANCE, json!({})).await;
    let listed: Vec<Option<&str>> = all["sourcePerformance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"]["id"].as_str())
        .collect();
    assert!(listed.contains(&Some(setup.archived_used.as_str())));
    assert!(listed.contains(&Some(setup.unused.as_str())));
    assert!(!listed.contains(&Some(setup.archived_unused.as_str())));
    assert_eq!(listed.last(), Some(&None));

    let some_source = data.opps.iter().find_map(|o| o.source.clone()).unwrap();
    for c in [
        FunnelCase {
            pipeline: sales,
            ..Default::default()
        },
        FunnelCase {
            pipeline: sales,
            from: Some(today - Duration::days(150)),
            to: Some(today - Duration::days(20)),
            ..Default::default()
        },
        FunnelCase {
            pipeline: partners,
            from: Some(today - Duration::days(250)),
            ..Default::default()
        },
        FunnelCase {
            pipeline: sales,
            source: Some(&some_source),
            owner: Some(&setup.owners[0]),
            ..Default::default()
        },
    ] {
        check_funnel(&app, &t, &data, tz, c).await;
    }
});

dual_test!(analytics_validate_ranges_and_ids, |app| {
    let a = app.sign_up("Range Co", "ann@range.co").await;
    let b = app.sign_up("Other Co", "bob@other.co").await;
    let (pid, _) = sales_pipeline(&app, &a.token).await;
    let (foreign_pipeline, _) = sales_pipeline(&app, &b.token).await;
    let foreign_source = source_ids(&app, &b.token).await[0].clone();

    let bad_ranges = [
        json!({ "from": "2026-11-02", "to": "2026-11-01" }),
        json!({ "from": "2026-01-01", "to": "2031-01-01" }),
        json!({ "from": "2026-01-15", "to": "2031-01-15" }),
    ];
    for i in bad_ranges {
        let v = app
            .gql(Some(&a.token), FORECAST, json!({ "i": i.clone() }))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{i}: {v}");
        assert_eq!(field(&v), "to");
        assert!(v["data"].is_null(), "{v}");
    }
    let v = app
        .gql(
            Some(&a.token),
            FORECAST,
            json!({ "i": { "from": "2026-01-15", "to": "2031-01-14", "groupBy": "STAGE" } }),
        )
        .await;
    assert!(v["errors"].is_null(), "just under 5 years is fine: {v}");
    assert_eq!(v["data"]["forecast"]["buckets"], json!([]));
    let v = app
        .gql(
            Some(&a.token),
            SOURCE_PERFORMANCE,
            json!({ "f": "2026-11-02", "t": "2026-11-01" }),
        )
        .await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "to"),
        "sourcePerformance: {v}"
    );
    let v = app
        .gql(
            Some(&a.token),
            FUNNEL,
            json!({ "p": pid, "f": "2026-11-02", "t": "2026-11-01" }),
        )
        .await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "to"),
        "funnel: {v}"
    );

    let range = json!({ "from": "2026-01-01", "to": "2026-12-31" });
    let mut probes: Vec<(&str, Value)> = Vec::new();
    for bad in [
        foreign_pipeline.as_str(),
        "nope",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let mut i = range.clone();
        i["pipelineId"] = json!(bad);
        probes.push((FORECAST, json!({ "i": i })));
        let mut i = range.clone();
        let (owner, source) = if bad == foreign_pipeline {
            (b.user_id.as_str(), foreign_source.as_str())
        } else {
            (bad, bad)
        };
        i["ownerId"] = json!(owner);
        probes.push((FORECAST, json!({ "i": i })));
        probes.push((SOURCE_PERFORMANCE, json!({ "p": bad })));
        probes.push((FUNNEL, json!({ "p": bad })));
        probes.push((FUNNEL, json!({ "p": pid, "s": source })));
        probes.push((FUNNEL, json!({ "p": pid, "o": owner })));
    }
    for (q, vars) in probes {
        let v = app.gql(Some(&a.token), q, vars.clone()).await;
        assert_eq!(code(&v), "NOT_FOUND", "{vars}: {v}");
    }
    let v = app.gql(None, FORECAST, json!({ "i": range })).await;
    assert_eq!(code(&v), "UNAUTHENTICATED");
});

dual_test!(analytics_of_an_empty_tenant_are_zero, |app| {
    let a = app.sign_up("Empty Co", "ann@empty.co").await;
    let (pid, stages) = sales_pipeline(&app, &a.token).await;
    let d = ok(
        &app,
        &a.token,
        FORECAST,
        json!({ "i": { "from": "2026-11-30", "to": "2027-02-01" } }),
    )
    .await;
    let f = &d["forecast"];
    let keys: Vec<String> = f["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| s(&b["key"]))
        .collect();
    assert_eq!(keys, ["2026-11", "2026-12", "2027-01", "2027-02"]);
    assert_eq!(f["buckets"][0]["label"], "November 2026");
    assert_eq!(f["buckets"][3]["label"], "February 2027");
    for b in f["buckets"].as_array().unwrap() {
        assert_eq!(Fc::of(b), Fc::default());
        assert_eq!(
            b["potential"],
            json!({ "amount": "0.00", "currency": "EUR" })
        );
    }
    assert_eq!(Fc::of(&f["total"]), Fc::default());

    let d = ok(&app, &a.token, SOURCE_PERFORMANCE, json!({})).await;
    let rows = d["sourcePerformance"].as_array().unwrap();
    assert_eq!(rows.len(), source_ids(&app, &a.token).await.len() + 1);
    for r in rows {
        assert_eq!(r["opportunities"], 0);
        assert_eq!(r["winRate"], 0.0);
        assert_eq!(r["wonAmount"]["amount"], "0.00");
    }
    assert!(rows.last().unwrap()["source"].is_null());

    let d = ok(&app, &a.token, FUNNEL, json!({ "p": pid })).await;
    let rows = d["funnel"].as_array().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| s(&r["stage"]["id"]))
            .collect::<Vec<_>>(),
        stages
    );
    for r in rows {
        assert_eq!(r["entered"], 0);
        assert_eq!(r["conversionRate"], 0.0);
        assert!(r["averageDaysInStage"].is_null());
    }
});
