//! Tenant isolation. Every ID an operation takes, as an argument or nested in
//! an input object, answers NOT_FOUND when it names another tenant's object,
//! nothing at all, or is malformed; and such a call changes nothing.
//!
//! `foreign_ids_are_not_found_and_change_nothing` walks every ID position of
//! the API; `every_id_taking_operation_is_walked` reads the live schema and
//! fails when an ID position appears that the walk does not cover.
use std::collections::{BTreeSet, HashMap};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Session, TestApp};

mod depth;
mod imports;

/// Every ID position the walk exercises, as "Type.field(arg)" or
/// "Type.field(arg.nested.field)". Must equal what the schema has.
const COVERED: &[&str] = &[
    "Subscription.opportunityEvents(pipelineId)",
    "Subscription.activityEvents(opportunityId)",
    "Query.pipeline(id)",
    "Query.webhookEndpoint(id)",
    "Mutation.updateWebhookEndpoint(id)",
    "Mutation.rotateWebhookSecret(id)",
    "Mutation.redeliverWebhook(deliveryId)",
    "Mutation.deleteWebhookEndpoint(id)",
    "Query.contact(id)",
    "Query.opportunity(id)",
    "Query.opportunities(filter.pipelineId)",
    "Query.opportunities(filter.stageIds)",
    "Query.opportunities(filter.ownerId)",
    "Query.opportunities(filter.sourceId)",
    "Query.opportunities(filter.contactId)",
    "Query.forecast(input.pipelineId)",
    "Query.forecast(input.ownerId)",
    "Query.sourcePerformance(pipelineId)",
    "Query.funnel(pipelineId)",
    "Query.funnel(sourceId)",
    "Query.funnel(ownerId)",
    "Query.activity(id)",
    "Query.activities(filter.opportunityId)",
    "Query.activities(filter.contactId)",
    "Query.activities(filter.assigneeId)",
    "Mutation.updateUser(id)",
    "Mutation.updatePipeline(id)",
    "Mutation.reorderStages(pipelineId)",
    "Mutation.reorderStages(stageIds)",
    "Mutation.addStage(pipelineId)",
    "Mutation.updateStage(id)",
    "Mutation.updateSource(id)",
    "Mutation.createContact(input.companyId)",
    "Mutation.createContact(input.sourceId)",
    "Mutation.updateContact(id)",
    "Mutation.updateContact(input.companyId)",
    "Mutation.createOpportunity(input.stageId)",
    "Mutation.createOpportunity(input.ownerId)",
    "Mutation.createOpportunity(input.teamIds)",
    "Mutation.createOpportunity(input.sourceId)",
    "Mutation.createOpportunity(input.contacts.contactId)",
    "Mutation.updateOpportunity(id)",
    "Mutation.updateOpportunity(input.ownerId)",
    "Mutation.updateOpportunity(input.teamIds)",
    "Mutation.updateOpportunity(input.sourceId)",
    "Mutation.moveOpportunity(id)",
    "Mutation.moveOpportunity(stageId)",
    "Mutation.markOpportunityWon(id)",
    "Mutation.markOpportunityLost(id)",
    "Mutation.reopenOpportunity(id)",
    "Mutation.addOpportunityContact(opportunityId)",
    "Mutation.addOpportunityContact(input.contactId)",
    "Mutation.removeOpportunityContact(opportunityId)",
    "Mutation.removeOpportunityContact(contactId)",
    "Mutation.createActivity(input.opportunityId)",
    "Mutation.createActivity(input.contactId)",
    "Mutation.createActivity(input.assigneeId)",
    "Mutation.updateActivity(id)",
    "Mutation.updateActivity(input.assigneeId)",
    "Mutation.completeActivity(id)",
    "Mutation.reopenActivity(id)",
    "Mutation.deleteActivity(id)",
    "Mutation.createDocument(input.opportunityId)",
    "Mutation.updateDocument(id)",
    "Mutation.deleteDocument(id)",
    "Mutation.createIntakeKey(input.stageId)",
    "Mutation.createIntakeKey(input.sourceId)",
    "Mutation.revokeIntakeKey(id)",
    "Mutation.deleteContact(id)",
    "Mutation.deleteOpportunity(id)",
    "Mutation.deleteStage(id)",
    "Mutation.deleteStage(moveOpportunitiesTo)",
    "Mutation.archivePipeline(id)",
    "Mutation.unarchivePipeline(id)",
    "Pipeline.stage(id)",
];

/// Stands for the ID under test in a probe's variables.
const BAD: &str = "@BAD";

/// The objects of one tenant that the walk points at.
pub(crate) struct World {
    admin: String,
    member: String,
    sales_pipeline: String,
    sales_stages: Vec<String>,
    pub(crate) pipeline: String,
    stages: Vec<String>,
    seeded_sources: Vec<String>,
    source: String,
    company: String,
    pub(crate) person: String,
    /// An unlinked PERSON, for addOpportunityContact.
    loose: String,
    /// An unlinked PERSON, for deleteContact.
    spare: String,
    /// In `stages[0]`, OPEN, with contacts, team and source.
    pub(crate) opp1: String,
    /// In `sales_stages[1]`, LOST.
    opp2: String,
    /// An open TASK on opp1 and person, assigned to member.
    pub(crate) activity: String,
    /// A DRAFT quote of opp1.
    document: String,
    intake_key: String,
    webhook: String,
    /// A (failed) delivery of the webhook's.
    delivery: String,
    depth: depth::Depth,
    imports: imports::Imports,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Pipeline,
    Stage,
    Source,
    Contact,
    User,
    Opportunity,
    Activity,
    Document,
    IntakeKey,
    Webhook,
    WebhookDelivery,
    Tag,
    CustomField,
    CustomFieldOption,
    SavedView,
    ImportJob,
}

impl World {
    /// This tenant's objects of a kind, as seen by another tenant.
    fn of(&self, kind: Kind) -> Vec<String> {
        match kind {
            Kind::Pipeline => vec![self.pipeline.clone(), self.sales_pipeline.clone()],
            Kind::Stage => vec![self.stages[0].clone(), self.sales_stages[0].clone()],
            Kind::Source => vec![self.source.clone(), self.seeded_sources[0].clone()],
            Kind::Contact => vec![self.company.clone(), self.person.clone()],
            Kind::User => vec![self.admin.clone(), self.member.clone()],
            Kind::Opportunity => vec![self.opp1.clone(), self.opp2.clone()],
            Kind::Activity => vec![self.activity.clone()],
            Kind::Document => vec![self.document.clone()],
            Kind::IntakeKey => vec![self.intake_key.clone()],
            Kind::Webhook => vec![self.webhook.clone()],
            Kind::WebhookDelivery => vec![self.delivery.clone()],
            Kind::Tag => self.depth.tags(),
            Kind::CustomField => self.depth.fields(),
            Kind::CustomFieldOption => self.depth.options(),
            Kind::SavedView => self.depth.views(),
            Kind::ImportJob => self.imports.ids(),
        }
    }
}

/// One ID position: `vars` holds `BAD` where the ID under test goes; `good`
/// is a valid value of the caller's tenant for that place (the control).
struct Probe {
    pos: &'static str,
    kind: Kind,
    query: &'static str,
    vars: Value,
    good: String,
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
        .to_string()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
        .iter()
        .map(|x| s(&x["id"]))
        .collect()
}

/// Runs a request that must succeed and returns its `data`.
async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let v = app.gql(Some(token), query, vars).await;
    assert!(v["errors"].is_null(), "{query}: {v}");
    v["data"].clone()
}

/// Gives a tenant one of everything.
async fn populate(app: &TestApp, session: &Session, tag: &str) -> World {
    let t = session.token.as_str();
    let seeded = ok(
        app,
        t,
        "{ pipelines { id stages { id } } sources { id } }",
        json!({}),
    )
    .await;
    let sales_pipeline = s(&seeded["pipelines"][0]["id"]);
    let sales_stages = ids(&seeded["pipelines"][0]["stages"]);
    let seeded_sources = ids(&seeded["sources"]);
    assert!(
        sales_stages.len() >= 2 && seeded_sources.len() == 5,
        "{seeded}"
    );

    let p = ok(
        app,
        t,
        "mutation($i: CreatePipelineInput!) { createPipeline(input: $i) { id stages { id } } }",
        json!({ "i": { "name": format!("{tag} projects"), "stages": [
            { "name": "Lead", "probability": 10 },
            { "name": "Offer", "probability": 50, "rottenAfterDays": 7 },
            { "name": "Signed", "probability": 90 },
        ]}}),
    )
    .await;
    let pipeline = s(&p["createPipeline"]["id"]);
    let stages = ids(&p["createPipeline"]["stages"]);
    let source = s(&ok(
        app,
        t,
        "mutation($n: String!) { createSource(name: $n) { id } }",
        json!({ "n": format!("{tag} partner") }),
    )
    .await["createSource"]["id"]);

    let contact = |input: Value| async move {
        s(&ok(
            app,
            t,
            "mutation($i: ContactInput!) { createContact(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await["createContact"]["id"])
    };
    let company = contact(json!({
        "kind": "COMPANY", "name": format!("{tag} Corp"), "email": format!("info@{tag}.test")
    }))
    .await;
    let person = contact(json!({
        "kind": "PERSON", "name": format!("{tag} Person"), "email": format!("p@{tag}.test"),
        "phone": "+1 555 0100", "companyId": company, "sourceId": source
    }))
    .await;
    let loose = contact(json!({ "kind": "PERSON", "name": format!("{tag} Loose") })).await;
    let spare = contact(json!({ "kind": "PERSON", "name": format!("{tag} Spare") })).await;

    let member = s(&ok(
        app,
        t,
        "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
        json!({ "i": {
            "email": format!("member@{tag}.test"), "name": format!("{tag} Member"),
            "role": "SALES", "password": crate::helpers::PASSWORD
        }}),
    )
    .await["createUser"]["id"]);

    let create = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }";
    let opp1 = s(&ok(
        app,
        t,
        create,
        json!({ "i": {
            "title": format!("{tag} deal"), "stageId": stages[0], "potential": "1000.50",
            "dueDate": "2030-01-31", "ownerId": member, "teamIds": [session.user_id],
            "sourceId": source, "probabilityOverride": 30,
            "contacts": [
                { "contactId": person, "role": "buyer", "isPrimary": true },
                { "contactId": company },
            ],
        }}),
    )
    .await["createOpportunity"]["id"]);
    let opp2 = s(&ok(
        app,
        t,
        create,
        json!({ "i": {
            "title": format!("{tag} second"), "stageId": sales_stages[1], "potential": "200",
            "contacts": [{ "contactId": company }],
        }}),
    )
    .await["createOpportunity"]["id"]);
    ok(
        app,
        t,
        "mutation($id: ID!) { markOpportunityLost(id: $id, reason: \"Budget\") { id } }",
        json!({ "id": opp2 }),
    )
    .await;

    let activity = s(&ok(
        app,
        t,
        "mutation($i: CreateActivityInput!) { createActivity(input: $i) { id } }",
        json!({ "i": {
            "kind": "TASK", "subject": format!("{tag} call back"), "dueAt": "2030-01-15T09:00:00Z",
            "opportunityId": opp1, "contactId": person, "assigneeId": member
        }}),
    )
    .await["createActivity"]["id"]);
    let document = s(&ok(
        app,
        t,
        "mutation($i: DocumentInput!) { createDocument(input: $i) { id } }",
        json!({ "i": {
            "opportunityId": opp1, "kind": "QUOTE", "title": format!("{tag} quote"),
            "reference": "Q-1", "amount": "900", "url": "https://example.com/q.pdf"
        }}),
    )
    .await["createDocument"]["id"]);
    let intake_key = s(&ok(
        app,
        t,
        "mutation($i: IntakeKeyInput!) { createIntakeKey(input: $i) { key { id } } }",
        json!({ "i": {
            "name": format!("{tag} website"), "stageId": sales_stages[0],
            "sourceId": seeded_sources[0]
        }}),
    )
    .await["createIntakeKey"]["key"]["id"]);

    // a webhook endpoint (nothing listens on port 9: a redelivery fails
    // fast) and one logged delivery of the tenant's latest event, written
    // as a delivery worker would
    let webhook = s(&ok(
        app,
        t,
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } } }",
        json!({ "i": { "url": "http://127.0.0.1:9/hook", "description": tag } }),
    )
    .await["createWebhookEndpoint"]["endpoint"]["id"]);
    let last = ok(
        app,
        t,
        "{ tenant { id } changes(first: 500) { nodes { id sequence } } }",
        json!({}),
    )
    .await;
    let event = last["changes"]["nodes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let delivery = uuid::Uuid::new_v4().to_string();
    {
        let db = app.db().await;
        let backend = db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_seq, event_kind, attempt, succeeded, response_code, duration_ms, error, at) VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5, 'opportunity.created', 1, false, 500, 3, 'the endpoint answered 500', $6)"
            }
            _ => {
                "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_seq, event_kind, attempt, succeeded, response_code, duration_ms, error, at) VALUES (?, ?, ?, ?, ?, 'opportunity.created', 1, false, 500, 3, 'the endpoint answered 500', ?)"
            }
        };
        let uuid = |v: &Value| uuid::Uuid::parse_str(v.as_str().unwrap()).unwrap();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                uuid::Uuid::parse_str(&delivery).unwrap().into(),
                uuid(&last["tenant"]["id"]).into(),
                uuid::Uuid::parse_str(&webhook).unwrap().into(),
                uuid(&event["id"]).into(),
                event["sequence"].as_i64().unwrap().into(),
                chrono::Utc::now().into(),
            ],
        ))
        .await
        .unwrap();
        db.close().await.ok();
    }

    let depth = depth::populate(app, t, tag).await;
    let imports = imports::populate(app, t).await;
    World {
        depth,
        imports,
        webhook,
        delivery,
        admin: session.user_id.clone(),
        member,
        sales_pipeline,
        sales_stages,
        pipeline,
        stages,
        seeded_sources,
        source,
        company,
        person,
        loose,
        spare,
        opp1,
        opp2,
        activity,
        document,
        intake_key,
    }
}

/// Every ID position, in an order in which the controls (the same calls
/// with `good` in place of `BAD`) all succeed one after the other.
fn probes(a: &World) -> Vec<Probe> {
    let probe = |pos, kind, query, vars: Value, good: &String| Probe {
        pos,
        kind,
        query,
        vars,
        good: good.clone(),
    };
    let list = "query($f: OpportunityFilter) { opportunities(filter: $f) { totalCount } }";
    let create = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }";
    let update = "mutation($id: ID!, $i: UpdateOpportunityInput!) { updateOpportunity(id: $id, input: $i) { id } }";
    let forecast = "query($i: ForecastInput!) { forecast(input: $i) { total { openCount } } }";
    let funnel = "query($p: ID!, $s: ID, $o: ID) { funnel(pipelineId: $p, sourceId: $s, ownerId: $o) { entered } }";
    let activities = "query($f: ActivityFilter) { activities(filter: $f) { totalCount } }";
    let create_activity = "mutation($i: CreateActivityInput!) { createActivity(input: $i) { id } }";
    let update_activity = "mutation($id: ID!, $i: UpdateActivityInput!) { updateActivity(id: $id, input: $i) { id } }";
    let intake = "mutation($i: IntakeKeyInput!) { createIntakeKey(input: $i) { key { id } } }";
    let new_opp = |extra: Value| {
        let mut i = json!({ "title": "Probe", "stageId": a.stages[1], "potential": "10" });
        for (k, v) in extra.as_object().unwrap() {
            i[k] = v.clone();
        }
        json!({ "i": i })
    };
    let mut all = depth::probes(a);
    all.extend(imports::probes(a));
    all.extend(vec![
        probe(
            "Subscription.opportunityEvents(pipelineId)",
            Kind::Pipeline,
            "subscription($id: ID) { opportunityEvents(pipelineId: $id) { kind } }",
            json!({ "id": BAD }),
            &a.pipeline,
        ),
        probe(
            "Subscription.activityEvents(opportunityId)",
            Kind::Opportunity,
            "subscription($id: ID) { activityEvents(opportunityId: $id) { kind } }",
            json!({ "id": BAD }),
            &a.opp1,
        ),
        probe(
            "Query.webhookEndpoint(id)",
            Kind::Webhook,
            "query($id: ID!) { webhookEndpoint(id: $id) { id deliveries { id } } }",
            json!({ "id": BAD }),
            &a.webhook,
        ),
        probe(
            "Mutation.updateWebhookEndpoint(id)",
            Kind::Webhook,
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { description: \"probed\" }) { id } }",
            json!({ "id": BAD }),
            &a.webhook,
        ),
        probe(
            "Mutation.rotateWebhookSecret(id)",
            Kind::Webhook,
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
            json!({ "id": BAD }),
            &a.webhook,
        ),
        probe(
            "Mutation.redeliverWebhook(deliveryId)",
            Kind::WebhookDelivery,
            "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id succeeded } }",
            json!({ "id": BAD }),
            &a.delivery,
        ),
        probe(
            "Query.pipeline(id)",
            Kind::Pipeline,
            "query($id: ID!) { pipeline(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.pipeline,
        ),
        probe(
            "Query.contact(id)",
            Kind::Contact,
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.person,
        ),
        probe(
            "Query.opportunity(id)",
            Kind::Opportunity,
            "query($id: ID!) { opportunity(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.opp1,
        ),
        probe(
            "Query.opportunities(filter.pipelineId)",
            Kind::Pipeline,
            list,
            json!({ "f": { "pipelineId": BAD } }),
            &a.pipeline,
        ),
        probe(
            "Pipeline.stage(id)",
            Kind::Stage,
            "query($p: ID!, $id: ID!) { pipeline(id: $p) { stage(id: $id) { id } } }",
            json!({ "p": a.pipeline, "id": BAD }),
            &a.stages[1],
        ),
        probe(
            "Query.opportunities(filter.stageIds)",
            Kind::Stage,
            list,
            json!({ "f": { "stageIds": [a.stages[0], BAD] } }),
            &a.stages[1],
        ),
        probe(
            "Query.opportunities(filter.ownerId)",
            Kind::User,
            list,
            json!({ "f": { "ownerId": BAD } }),
            &a.member,
        ),
        probe(
            "Query.opportunities(filter.sourceId)",
            Kind::Source,
            list,
            json!({ "f": { "sourceId": BAD } }),
            &a.source,
        ),
        probe(
            "Query.opportunities(filter.contactId)",
            Kind::Contact,
            list,
            json!({ "f": { "contactId": BAD } }),
            &a.person,
        ),
        probe(
            "Query.forecast(input.pipelineId)",
            Kind::Pipeline,
            forecast,
            json!({ "i": { "from": "2026-01-01", "to": "2030-12-31", "pipelineId": BAD } }),
            &a.pipeline,
        ),
        probe(
            "Query.forecast(input.ownerId)",
            Kind::User,
            forecast,
            json!({ "i": { "from": "2026-01-01", "to": "2030-12-31", "ownerId": BAD } }),
            &a.member,
        ),
        probe(
            "Query.sourcePerformance(pipelineId)",
            Kind::Pipeline,
            "query($p: ID) { sourcePerformance(pipelineId: $p) { opportunities } }",
            json!({ "p": BAD }),
            &a.pipeline,
        ),
        probe(
            "Query.funnel(pipelineId)",
            Kind::Pipeline,
            funnel,
            json!({ "p": BAD }),
            &a.pipeline,
        ),
        probe(
            "Query.funnel(sourceId)",
            Kind::Source,
            funnel,
            json!({ "p": a.pipeline, "s": BAD }),
            &a.source,
        ),
        probe(
            "Query.funnel(ownerId)",
            Kind::User,
            funnel,
            json!({ "p": a.pipeline, "o": BAD }),
            &a.member,
        ),
        probe(
            "Query.activity(id)",
            Kind::Activity,
            "query($id: ID!) { activity(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.activity,
        ),
        probe(
            "Query.activities(filter.opportunityId)",
            Kind::Opportunity,
            activities,
            json!({ "f": { "opportunityId": BAD } }),
            &a.opp1,
        ),
        probe(
            "Query.activities(filter.contactId)",
            Kind::Contact,
            activities,
            json!({ "f": { "contactId": BAD } }),
            &a.person,
        ),
        probe(
            "Query.activities(filter.assigneeId)",
            Kind::User,
            activities,
            json!({ "f": { "assigneeId": BAD } }),
            &a.member,
        ),
        probe(
            "Mutation.updateUser(id)",
            Kind::User,
            "mutation($id: ID!) { updateUser(id: $id, input: { name: \"Renamed\" }) { id } }",
            json!({ "id": BAD }),
            &a.member,
        ),
        probe(
            "Mutation.updatePipeline(id)",
            Kind::Pipeline,
            "mutation($id: ID!) { updatePipeline(id: $id, input: { name: \"Renamed\", position: 0 }) { id } }",
            json!({ "id": BAD }),
            &a.pipeline,
        ),
        probe(
            "Mutation.reorderStages(pipelineId)",
            Kind::Pipeline,
            "mutation($p: ID!, $s: [ID!]!) { reorderStages(pipelineId: $p, stageIds: $s) { id } }",
            json!({ "p": BAD, "s": [a.stages[2], a.stages[1], a.stages[0]] }),
            &a.pipeline,
        ),
        probe(
            "Mutation.reorderStages(stageIds)",
            Kind::Stage,
            "mutation($p: ID!, $s: [ID!]!) { reorderStages(pipelineId: $p, stageIds: $s) { id } }",
            json!({ "p": a.pipeline, "s": [a.stages[0], a.stages[1], BAD] }),
            &a.stages[2],
        ),
        probe(
            "Mutation.addStage(pipelineId)",
            Kind::Pipeline,
            "mutation($p: ID!) { addStage(pipelineId: $p, input: { name: \"Extra\", probability: 20 }, position: 0) { id } }",
            json!({ "p": BAD }),
            &a.sales_pipeline,
        ),
        probe(
            "Mutation.updateStage(id)",
            Kind::Stage,
            "mutation($id: ID!) { updateStage(id: $id, input: { name: \"Renamed\", probability: 40 }) { id } }",
            json!({ "id": BAD }),
            &a.stages[1],
        ),
        probe(
            "Mutation.updateSource(id)",
            Kind::Source,
            "mutation($id: ID!) { updateSource(id: $id, name: \"Renamed\") { id } }",
            json!({ "id": BAD }),
            &a.source,
        ),
        probe(
            "Mutation.createContact(input.companyId)",
            Kind::Contact,
            "mutation($i: ContactInput!) { createContact(input: $i) { id } }",
            json!({ "i": { "kind": "PERSON", "name": "Probe one", "companyId": BAD } }),
            &a.company,
        ),
        probe(
            "Mutation.createContact(input.sourceId)",
            Kind::Source,
            "mutation($i: ContactInput!) { createContact(input: $i) { id } }",
            json!({ "i": { "kind": "PERSON", "name": "Probe two", "sourceId": BAD } }),
            &a.source,
        ),
        probe(
            "Mutation.updateContact(id)",
            Kind::Contact,
            "mutation($id: ID!) { updateContact(id: $id, input: { name: \"Renamed\", email: null }) { id } }",
            json!({ "id": BAD }),
            &a.person,
        ),
        probe(
            "Mutation.updateContact(input.companyId)",
            Kind::Contact,
            "mutation($id: ID!, $c: ID) { updateContact(id: $id, input: { companyId: $c }) { id } }",
            json!({ "id": a.person, "c": BAD }),
            &a.company,
        ),
        probe(
            "Mutation.createOpportunity(input.stageId)",
            Kind::Stage,
            create,
            new_opp(json!({ "stageId": BAD })),
            &a.stages[1],
        ),
        probe(
            "Mutation.createOpportunity(input.ownerId)",
            Kind::User,
            create,
            new_opp(json!({ "ownerId": BAD })),
            &a.member,
        ),
        probe(
            "Mutation.createOpportunity(input.teamIds)",
            Kind::User,
            create,
            new_opp(json!({ "teamIds": [a.member, BAD] })),
            &a.admin,
        ),
        probe(
            "Mutation.createOpportunity(input.sourceId)",
            Kind::Source,
            create,
            new_opp(json!({ "sourceId": BAD })),
            &a.source,
        ),
        probe(
            "Mutation.createOpportunity(input.contacts.contactId)",
            Kind::Contact,
            create,
            new_opp(json!({ "contacts": [{ "contactId": a.company }, { "contactId": BAD }] })),
            &a.person,
        ),
        probe(
            "Mutation.updateOpportunity(id)",
            Kind::Opportunity,
            update,
            json!({ "id": BAD, "i": { "title": "Hijacked", "potential": "1", "dueDate": null } }),
            &a.opp1,
        ),
        probe(
            "Mutation.updateOpportunity(input.ownerId)",
            Kind::User,
            update,
            json!({ "id": a.opp1, "i": { "title": "Changed", "ownerId": BAD } }),
            &a.admin,
        ),
        probe(
            "Mutation.updateOpportunity(input.teamIds)",
            Kind::User,
            update,
            json!({ "id": a.opp1, "i": { "title": "Changed", "teamIds": [a.admin, BAD] } }),
            &a.member,
        ),
        probe(
            "Mutation.updateOpportunity(input.sourceId)",
            Kind::Source,
            update,
            json!({ "id": a.opp1, "i": { "title": "Changed", "sourceId": BAD } }),
            &a.seeded_sources[0],
        ),
        probe(
            "Mutation.moveOpportunity(id)",
            Kind::Opportunity,
            "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }",
            json!({ "id": BAD, "s": a.stages[1] }),
            &a.opp1,
        ),
        probe(
            "Mutation.moveOpportunity(stageId)",
            Kind::Stage,
            "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }",
            json!({ "id": a.opp1, "s": BAD }),
            &a.sales_stages[0],
        ),
        probe(
            "Mutation.markOpportunityWon(id)",
            Kind::Opportunity,
            "mutation($id: ID!) { markOpportunityWon(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.opp1,
        ),
        probe(
            "Mutation.markOpportunityLost(id)",
            Kind::Opportunity,
            "mutation($id: ID!) { markOpportunityLost(id: $id, reason: \"Probe\") { id } }",
            json!({ "id": BAD }),
            &a.opp1,
        ),
        probe(
            "Mutation.reopenOpportunity(id)",
            Kind::Opportunity,
            "mutation($id: ID!) { reopenOpportunity(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.opp1,
        ),
        probe(
            "Mutation.addOpportunityContact(opportunityId)",
            Kind::Opportunity,
            "mutation($o: ID!, $c: ID!) { addOpportunityContact(opportunityId: $o, input: { contactId: $c, isPrimary: true }) { id } }",
            json!({ "o": BAD, "c": a.person }),
            &a.opp2,
        ),
        probe(
            "Mutation.addOpportunityContact(input.contactId)",
            Kind::Contact,
            "mutation($o: ID!, $c: ID!) { addOpportunityContact(opportunityId: $o, input: { contactId: $c, isPrimary: true }) { id } }",
            json!({ "o": a.opp2, "c": BAD }),
            &a.loose,
        ),
        probe(
            "Mutation.removeOpportunityContact(opportunityId)",
            Kind::Opportunity,
            "mutation($o: ID!, $c: ID!) { removeOpportunityContact(opportunityId: $o, contactId: $c) { id } }",
            json!({ "o": BAD, "c": a.person }),
            &a.opp1,
        ),
        probe(
            "Mutation.removeOpportunityContact(contactId)",
            Kind::Contact,
            "mutation($o: ID!, $c: ID!) { removeOpportunityContact(opportunityId: $o, contactId: $c) { id } }",
            json!({ "o": a.opp1, "c": BAD }),
            &a.company,
        ),
        probe(
            "Mutation.createActivity(input.opportunityId)",
            Kind::Opportunity,
            create_activity,
            json!({ "i": { "kind": "NOTE", "subject": "Probe", "opportunityId": BAD } }),
            &a.opp1,
        ),
        probe(
            "Mutation.createActivity(input.contactId)",
            Kind::Contact,
            create_activity,
            json!({ "i": { "kind": "NOTE", "subject": "Probe", "contactId": BAD } }),
            &a.person,
        ),
        probe(
            "Mutation.createActivity(input.assigneeId)",
            Kind::User,
            create_activity,
            json!({ "i": {
                "kind": "TASK", "subject": "Probe", "dueAt": "2030-02-01T09:00:00Z",
                "opportunityId": a.opp1, "assigneeId": BAD
            }}),
            &a.member,
        ),
        probe(
            "Mutation.updateActivity(id)",
            Kind::Activity,
            update_activity,
            json!({ "id": BAD, "i": { "subject": "Hijacked", "dueAt": "2031-01-01T00:00:00Z" } }),
            &a.activity,
        ),
        probe(
            "Mutation.updateActivity(input.assigneeId)",
            Kind::User,
            update_activity,
            json!({ "id": a.activity, "i": { "subject": "Changed", "assigneeId": BAD } }),
            &a.admin,
        ),
        probe(
            "Mutation.completeActivity(id)",
            Kind::Activity,
            "mutation($id: ID!) { completeActivity(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.activity,
        ),
        probe(
            "Mutation.reopenActivity(id)",
            Kind::Activity,
            "mutation($id: ID!) { reopenActivity(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.activity,
        ),
        probe(
            "Mutation.deleteActivity(id)",
            Kind::Activity,
            "mutation($id: ID!) { deleteActivity(id: $id) }",
            json!({ "id": BAD }),
            &a.activity,
        ),
        probe(
            "Mutation.createDocument(input.opportunityId)",
            Kind::Opportunity,
            "mutation($i: DocumentInput!) { createDocument(input: $i) { id } }",
            json!({ "i": {
                "opportunityId": BAD, "kind": "CONTRACT", "title": "Probe", "amount": "1",
                "useAsPotential": true
            }}),
            &a.opp1,
        ),
        probe(
            "Mutation.updateDocument(id)",
            Kind::Document,
            "mutation($id: ID!) { updateDocument(id: $id, input: { title: \"Hijacked\", status: SENT }) { id } }",
            json!({ "id": BAD }),
            &a.document,
        ),
        probe(
            "Mutation.deleteDocument(id)",
            Kind::Document,
            "mutation($id: ID!) { deleteDocument(id: $id) }",
            json!({ "id": BAD }),
            &a.document,
        ),
        probe(
            "Mutation.createIntakeKey(input.stageId)",
            Kind::Stage,
            intake,
            json!({ "i": { "name": "Probe", "stageId": BAD } }),
            &a.sales_stages[0],
        ),
        probe(
            "Mutation.createIntakeKey(input.sourceId)",
            Kind::Source,
            intake,
            json!({ "i": { "name": "Probe", "stageId": a.sales_stages[0], "sourceId": BAD } }),
            &a.source,
        ),
        probe(
            "Mutation.revokeIntakeKey(id)",
            Kind::IntakeKey,
            "mutation($id: ID!) { revokeIntakeKey(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.intake_key,
        ),
        probe(
            "Mutation.deleteContact(id)",
            Kind::Contact,
            "mutation($id: ID!) { deleteContact(id: $id) }",
            json!({ "id": BAD }),
            &a.spare,
        ),
        probe(
            "Mutation.deleteOpportunity(id)",
            Kind::Opportunity,
            "mutation($id: ID!) { deleteOpportunity(id: $id) }",
            json!({ "id": BAD }),
            &a.opp2,
        ),
        probe(
            "Mutation.deleteStage(id)",
            Kind::Stage,
            "mutation($id: ID!, $to: ID) { deleteStage(id: $id, moveOpportunitiesTo: $to) }",
            json!({ "id": BAD, "to": a.stages[1] }),
            &a.stages[2],
        ),
        // stages[0] holds opp1 during the walk: the target matters
        probe(
            "Mutation.deleteStage(moveOpportunitiesTo)",
            Kind::Stage,
            "mutation($id: ID!, $to: ID) { deleteStage(id: $id, moveOpportunitiesTo: $to) }",
            json!({ "id": a.stages[0], "to": BAD }),
            &a.stages[1],
        ),
        probe(
            "Mutation.deleteWebhookEndpoint(id)",
            Kind::Webhook,
            "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
            json!({ "id": BAD }),
            &a.webhook,
        ),
        probe(
            "Mutation.archivePipeline(id)",
            Kind::Pipeline,
            "mutation($id: ID!) { archivePipeline(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.pipeline,
        ),
        probe(
            "Mutation.unarchivePipeline(id)",
            Kind::Pipeline,
            "mutation($id: ID!) { unarchivePipeline(id: $id) { id } }",
            json!({ "id": BAD }),
            &a.pipeline,
        ),
    ]);
    all
}

/// `vars` with every `BAD` replaced by `id`.
fn with_id(vars: &Value, id: &str) -> Value {
    match vars {
        Value::String(s) if s == BAD => Value::String(id.to_string()),
        Value::Array(a) => Value::Array(a.iter().map(|v| with_id(v, id)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), with_id(v, id))).collect())
        }
        other => other.clone(),
    }
}

/// Everything a tenant's admin can read, as JSON.
async fn tenant_snapshot(app: &TestApp, token: &str) -> Value {
    let setup = ok(
        app,
        token,
        "{ tenant { id name slug currency timezone }
           users(includeInactive: true) { id email name role active }
           exchangeRates { currency rate }
           sources(includeArchived: true) { id name archived }
           pipelines(includeArchived: true) {
             id name position archived openCount
             stages { id name position probability rottenAfterDays count }
           } }",
        json!({}),
    )
    .await;
    let contacts = ok(
        app,
        token,
        "{ contacts(first: 50) { totalCount nodes {
             id kind lifecycle name email phone company { id } source { id }
           } } }",
        json!({}),
    )
    .await;
    let opportunities = ok(
        app,
        token,
        "{ opportunities(first: 10) { totalCount nodes {
             id reference title status version probability probabilityOverride
             potential { amount currency } dueDate lostReason closedAt updatedAt
             pipeline { id } stage { id } owner { id } team { id } source { id }
             contacts { contact { id } role isPrimary }
             stageHistory { fromStage { id } toStage { id } changedAt }
             history(first: 10) { totalCount nodes { field from to changedAt } }
           } } }",
        json!({}),
    )
    .await;
    let more = ok(
        app,
        token,
        "{ activities(first: 20) { totalCount nodes {
             id kind subject note done dueAt completedAt
             assignee { id } opportunity { id } contact { id }
           } }
           intakeKeys { id name revoked lastUsedAt stage { id } source { id } }
           opportunities(first: 10) { nodes { id documents {
             id kind title reference status url amount { amount currency }
           } } } }",
        json!({}),
    )
    .await;
    json!({
        "setup": setup, "contacts": contacts, "opportunities": opportunities, "more": more
    })
}

/// Every row of every table (but the migration log), as text, per table.
type DbSnapshot = Vec<(String, Vec<String>)>;

async fn strings(db: &DatabaseConnection, sql: String) -> Vec<Vec<Option<String>>> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            // a missing column can read as NULL on SQLite: bound by the real count
            (0..row.column_names().len())
                .map_while(|i| row.try_get::<Option<String>>("", &format!("c{i}")).ok())
                .collect()
        })
        .collect()
}

/// Read generically, so that tables added later are watched too.
async fn db_snapshot(db: &DatabaseConnection) -> DbSnapshot {
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    let tables = if sqlite {
        "SELECT name AS c0 FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' ORDER BY name"
    } else {
        "SELECT table_name::text AS c0 FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
    };
    let mut out = Vec::new();
    for t in strings(db, tables.into()).await {
        let Some(table) = t.into_iter().flatten().next() else {
            continue;
        };
        if table == "seaql_migrations" {
            continue;
        }
        let columns_sql = if sqlite {
            format!("SELECT name AS c0 FROM pragma_table_info('{table}') ORDER BY cid")
        } else {
            format!(
                "SELECT column_name::text AS c0 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' \
                 ORDER BY ordinal_position"
            )
        };
        let columns: Vec<String> = strings(db, columns_sql)
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().flatten().next())
            .collect();
        let select = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if sqlite {
                    format!("quote(\"{c}\") AS c{i}")
                } else {
                    format!("\"{c}\"::text AS c{i}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut rows: Vec<String> = strings(db, format!("SELECT {select} FROM \"{table}\""))
            .await
            .into_iter()
            .map(|r| {
                columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("NULL")))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        rows.sort();
        out.push((table, rows));
    }
    out
}

fn db_diff(before: &DbSnapshot, after: &DbSnapshot) -> String {
    let mut out = Vec::new();
    for ((table, old), (_, new)) in before.iter().zip(after) {
        let gone: Vec<&String> = old.iter().filter(|r| !new.contains(r)).collect();
        let came: Vec<&String> = new.iter().filter(|r| !old.contains(r)).collect();
        if !gone.is_empty() || !came.is_empty() {
            let cut = |rows: Vec<&String>| -> Vec<String> {
                rows.iter().map(|r| r.chars().take(240).collect()).collect()
            };
            out.push(format!("{table}: was {:?}, now {:?}", cut(gone), cut(came)));
        }
    }
    out.join("; ")
}

/// Two tenants with one of everything each.
pub(crate) async fn two_tenants(app: &TestApp) -> (Session, World, Session, World) {
    let sa = app.sign_up("Tenant A", "admin@a.test").await;
    let sb = app.sign_up("Tenant B", "admin@b.test").await;
    let a = populate(app, &sa, "a").await;
    let b = populate(app, &sb, "b").await;
    (sa, a, sb, b)
}

/// B's objects of the probe's kind, an unknown UUID and malformed IDs.
fn foreign_and_unknown(b: &World, p: &Probe) -> Vec<(String, String)> {
    let mut bad: Vec<(String, String)> = b
        .of(p.kind)
        .into_iter()
        .map(|id| (format!("tenant B's {:?} {id}", p.kind), id))
        .collect();
    let unknown = uuid::Uuid::new_v4().to_string();
    bad.push((format!("unknown {unknown}"), unknown));
    bad.push(("malformed \"not-a-uuid\"".into(), "not-a-uuid".into()));
    bad.push(("empty \"\"".into(), String::new()));
    bad
}

/// Sends every probe with every bad ID `bad_ids` gives for it, and returns
/// what went wrong: an answer other than one of `codes` (with null data),
/// or any row of any tenant changed by the call.
async fn run_probes(
    app: &TestApp,
    db: &DatabaseConnection,
    token: &str,
    probes: &[Probe],
    bad_ids: impl Fn(&Probe) -> Vec<(String, String)>,
    codes: &[&str],
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut rows = db_snapshot(db).await;
    for p in probes {
        for (what, id) in bad_ids(p) {
            let v = app
                .gql_any(Some(token), p.query, with_id(&p.vars, &id))
                .await;
            let code = v["errors"][0]["extensions"]["code"].as_str();
            // nothing answered: every field is null, or (for a field nested
            // under an object the caller may see) holds only nulls
            let data_null = no_scalars(&v["data"]);
            if !code.is_some_and(|c| codes.contains(&c)) || !data_null {
                failures.push(format!("{} with {what}: answered {v}", p.pos));
            }
            let now = db_snapshot(db).await;
            if now != rows {
                failures.push(format!(
                    "{} with {what}: changed {}",
                    p.pos,
                    db_diff(&rows, &now)
                ));
                rows = now;
            }
        }
    }
    failures
}

/// Whether an answer holds no value at all, only nulls and objects of nulls.
fn no_scalars(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.values().all(no_scalars),
        _ => false,
    }
}

fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

dual_test!(foreign_ids_are_not_found_and_change_nothing, |app| {
    walk_foreign_ids(&app).await;
});

/// The backstop: with the application's own tenant filter switched off,
/// PostgreSQL's row-level security alone keeps every probe of the walk
/// from seeing or touching the other tenant's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn row_level_security_alone_keeps_tenants_apart() {
    let Some(app) = TestApp::spawn_with(crate::helpers::Backend::Postgres, |s| {
        s.tenant_filter = false
    })
    .await
    else {
        return;
    };
    // the control: without the filter the application really does ask
    // for every tenant's rows, and only the database refuses them
    let (sa, _, _, _) = two_tenants(&app).await;
    let v = app
        .gql(Some(&sa.token), "{ users { email } }", json!({}))
        .await;
    let users = v["data"]["users"].as_array().unwrap();
    assert!(!users.is_empty());
    let foreign: Vec<_> = users
        .iter()
        .filter(|u| !u["email"].as_str().unwrap().ends_with("@a.test"))
        .collect();
    assert!(foreign.is_empty(), "{foreign:?}");
    walk_foreign_ids(&app).await;
}

async fn walk_foreign_ids(app: &TestApp) {
    let (sa, a, sb, b) = two_tenants(app).await;
    let probes = probes(&a);
    let walked: BTreeSet<&str> = probes.iter().map(|p| p.pos).collect();
    assert_eq!(walked.len(), probes.len(), "a position is walked twice");
    assert_eq!(
        walked,
        COVERED
            .iter()
            .chain(depth::COVERED)
            .chain(imports::COVERED)
            .copied()
            .collect::<BTreeSet<_>>(),
        "the walk and COVERED disagree"
    );

    let db = app.db().await;
    let b_before = tenant_snapshot(app, &sb.token).await;
    let a_before = tenant_snapshot(app, &sa.token).await;
    let failures = run_probes(
        app,
        &db,
        &sa.token,
        &probes,
        |p| foreign_and_unknown(&b, p),
        &["NOT_FOUND"],
    )
    .await;
    assert_no_failures(&failures);
    assert_eq!(
        tenant_snapshot(app, &sb.token).await,
        b_before,
        "tenant B changed during the walk"
    );
    assert_eq!(
        tenant_snapshot(app, &sa.token).await,
        a_before,
        "tenant A changed during the walk"
    );

    // The controls: each probe with a valid ID of A's in place works, so
    // the NOT_FOUND above came from the ID under test and nothing else.
    let mut controls = Vec::new();
    for p in &probes {
        let v = app
            .gql_any(Some(&sa.token), p.query, with_id(&p.vars, &p.good))
            .await;
        if !v["errors"].is_null() {
            controls.push(format!("control of {}: {v}", p.pos));
        }
    }
    assert_no_failures(&controls);
    assert_eq!(
        tenant_snapshot(app, &sb.token).await,
        b_before,
        "tenant A's own changes reached tenant B"
    );
    db.close().await.ok();
}

// A MANAGER or SALES caller may be refused an operation outright
// (FORBIDDEN), but a foreign or unknown ID still never does anything.
dual_test!(foreign_ids_change_nothing_for_managers_and_sales, |app| {
    let (sa, a, _sb, b) = two_tenants(&app).await;
    let manager = app
        .create_user(&sa, "manager@a.test", "MANAGER")
        .await
        .token;
    // the SALES member owns opp1, so it may change it
    let login = app
        .login(&sa.slug, "member@a.test", crate::helpers::PASSWORD)
        .await;
    let sales = Session::from_payload(&login["data"]["login"], "member@a.test").token;
    let db = app.db().await;
    let mut failures = Vec::new();
    for (role, token) in [("MANAGER", &manager), ("SALES", &sales)] {
        let found = run_probes(
            &app,
            &db,
            token,
            &probes(&a),
            |p| foreign_and_unknown(&b, p),
            &["NOT_FOUND", "FORBIDDEN"],
        )
        .await;
        failures.extend(found.into_iter().map(|f| format!("as {role}: {f}")));
    }
    assert_no_failures(&failures);
    db.close().await.ok();
});

// A deleted stage is gone: every stage position treats it as unknown.
dual_test!(a_deleted_stage_is_not_found, |app| {
    let (sa, a, _sb, _b) = two_tenants(&app).await;
    let gone = a.stages[2].clone();
    ok(
        &app,
        &sa.token,
        "mutation($id: ID!) { deleteStage(id: $id) }",
        json!({ "id": gone }),
    )
    .await;
    let stage_probes: Vec<Probe> = probes(&a)
        .into_iter()
        .filter(|p| matches!(p.kind, Kind::Stage))
        .collect();
    let db = app.db().await;
    let failures = run_probes(
        &app,
        &db,
        &sa.token,
        &stage_probes,
        |_| vec![(format!("deleted stage {gone}"), gone.clone())],
        &["NOT_FOUND"],
    )
    .await;
    assert_no_failures(&failures);
    db.close().await.ok();
});

const INTROSPECTION: &str = "
{ __schema {
    types {
      kind name
      fields { name args { name type { ...T } } }
      inputFields { name type { ...T } }
    }
} }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// The named type under NON_NULL and LIST wrappers: (kind, name).
fn named(mut t: &Value) -> (&str, &str) {
    while t["name"].is_null() && t["ofType"].is_object() {
        t = &t["ofType"];
    }
    (
        t["kind"].as_str().unwrap_or_default(),
        t["name"].as_str().unwrap_or_default(),
    )
}

fn id_positions(
    types: &HashMap<&str, &Value>,
    ty: &Value,
    at: &str,
    path: &str,
    inside: &mut Vec<String>,
    out: &mut BTreeSet<String>,
) {
    let (kind, name) = named(ty);
    if name == "ID" {
        out.insert(format!("{at}({path})"));
    } else if kind == "INPUT_OBJECT" && !inside.iter().any(|n| n == name) {
        inside.push(name.to_string());
        let fields = types[name]["inputFields"].as_array().unwrap();
        for f in fields {
            let sub = format!("{path}.{}", f["name"].as_str().unwrap());
            id_positions(types, &f["type"], at, &sub, inside, out);
        }
        inside.pop();
    }
}

/// Every place in the live schema where a client passes an ID: arguments
/// of any field of any object type (Query, Mutation, Subscription and the
/// rest), and fields of input objects at any depth.
fn schema_id_positions() -> BTreeSet<String> {
    let schema = crm_server::graphql::build_schema(None, true);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let res = rt.block_on(schema.execute(INTROSPECTION));
    assert!(res.errors.is_empty(), "introspection: {:?}", res.errors);
    let data = serde_json::to_value(&res.data).unwrap();
    let all = data["__schema"]["types"].as_array().unwrap();
    let types: HashMap<&str, &Value> = all
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t))
        .collect();
    let mut out = BTreeSet::new();
    for t in all {
        let name = t["name"].as_str().unwrap();
        if t["kind"] != "OBJECT" || name.starts_with("__") {
            continue;
        }
        for f in t["fields"].as_array().unwrap() {
            let at = format!("{name}.{}", f["name"].as_str().unwrap());
            for arg in f["args"].as_array().unwrap() {
                let path = arg["name"].as_str().unwrap();
                id_positions(&types, &arg["type"], &at, path, &mut Vec::new(), &mut out);
            }
        }
    }
    out
}

#[test]
fn every_id_taking_operation_is_walked() {
    let in_schema = schema_id_positions();
    let covered: BTreeSet<String> = COVERED
        .iter()
        .chain(depth::COVERED)
        .chain(imports::COVERED)
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        covered.len(),
        COVERED.len() + depth::COVERED.len() + imports::COVERED.len(),
        "COVERED lists a position twice"
    );
    let missing: Vec<&String> = in_schema.difference(&covered).collect();
    let stale: Vec<&String> = covered.difference(&in_schema).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "ID positions the isolation walk does not cover (add a probe and a COVERED entry): \
         {missing:#?}\nCOVERED entries the schema no longer has: {stale:#?}"
    );
    // the walk would be meaningless if the reader found nothing
    assert!(in_schema.len() >= 40, "{in_schema:#?}");
}
