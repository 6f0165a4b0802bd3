//! The isolation walk's probes for tags and custom fields.
use serde_json::{Value, json};

use super::{BAD, Kind, Probe, World, ids, ok, s};
use crate::helpers::TestApp;

/// The ID positions of tags and custom fields.
pub(super) const COVERED: &[&str] = &[
    "Query.opportunities(filter.tags.anyOf)",
    "Query.opportunities(filter.tags.allOf)",
    "Query.opportunities(filter.customFields.anyOptionIds)",
    "Query.contacts(filter.tags.anyOf)",
    "Query.contacts(filter.tags.allOf)",
    "Query.contacts(filter.customFields.anyOptionIds)",
    "Mutation.createOpportunity(input.tagIds)",
    "Mutation.createOpportunity(input.customFields.optionIds)",
    "Mutation.updateOpportunity(input.tagIds)",
    "Mutation.updateOpportunity(input.customFields.optionIds)",
    "Mutation.createContact(input.tagIds)",
    "Mutation.createContact(input.customFields.optionIds)",
    "Mutation.updateContact(input.tagIds)",
    "Mutation.updateContact(input.customFields.optionIds)",
    "Mutation.updateTag(id)",
    "Mutation.mergeTags(targetId)",
    "Mutation.mergeTags(sourceIds)",
    "Mutation.deleteTag(id)",
    "Mutation.updateCustomField(id)",
    "Mutation.addCustomFieldOption(fieldId)",
    "Mutation.updateCustomFieldOption(id)",
    "Mutation.bulkUpdateOpportunities(ids)",
    "Mutation.bulkUpdateOpportunities(change.ownerId)",
    "Mutation.bulkUpdateOpportunities(change.stageId)",
    "Mutation.bulkUpdateOpportunities(change.addTagIds)",
    "Mutation.bulkUpdateOpportunities(change.removeTagIds)",
    "Mutation.bulkUpdateOpportunities(change.customFields.optionIds)",
    "Mutation.bulkDeleteOpportunities(ids)",
    "Mutation.bulkUpdateOpportunities(filter.pipelineId)",
    "Mutation.bulkUpdateOpportunities(filter.stageIds)",
    "Mutation.bulkUpdateOpportunities(filter.ownerId)",
    "Mutation.bulkUpdateOpportunities(filter.sourceId)",
    "Mutation.bulkUpdateOpportunities(filter.contactId)",
    "Mutation.bulkUpdateOpportunities(filter.tags.anyOf)",
    "Mutation.bulkUpdateOpportunities(filter.tags.allOf)",
    "Mutation.bulkUpdateOpportunities(filter.customFields.anyOptionIds)",
    "Mutation.bulkDeleteOpportunities(filter.pipelineId)",
    "Mutation.bulkDeleteOpportunities(filter.stageIds)",
    "Mutation.bulkDeleteOpportunities(filter.ownerId)",
    "Mutation.bulkDeleteOpportunities(filter.sourceId)",
    "Mutation.bulkDeleteOpportunities(filter.contactId)",
    "Mutation.bulkDeleteOpportunities(filter.tags.anyOf)",
    "Mutation.bulkDeleteOpportunities(filter.tags.allOf)",
    "Mutation.bulkDeleteOpportunities(filter.customFields.anyOptionIds)",
    "Query.opportunities(view)",
    "Mutation.updateSavedView(id)",
    "Mutation.deleteSavedView(id)",
    "Mutation.createSavedView(input.filter.pipelineId)",
    "Mutation.createSavedView(input.filter.stageIds)",
    "Mutation.createSavedView(input.filter.ownerId)",
    "Mutation.createSavedView(input.filter.sourceId)",
    "Mutation.createSavedView(input.filter.contactId)",
    "Mutation.createSavedView(input.filter.tags.anyOf)",
    "Mutation.createSavedView(input.filter.tags.allOf)",
    "Mutation.createSavedView(input.filter.customFields.anyOptionIds)",
    "Mutation.updateSavedView(input.filter.pipelineId)",
    "Mutation.updateSavedView(input.filter.stageIds)",
    "Mutation.updateSavedView(input.filter.ownerId)",
    "Mutation.updateSavedView(input.filter.sourceId)",
    "Mutation.updateSavedView(input.filter.contactId)",
    "Mutation.updateSavedView(input.filter.tags.anyOf)",
    "Mutation.updateSavedView(input.filter.tags.allOf)",
    "Mutation.updateSavedView(input.filter.customFields.anyOptionIds)",
];

/// One tenant's tags and custom fields.
pub(crate) struct Depth {
    /// Kept; `merged` and `folded` end merged into it, `doomed` deleted.
    tag: String,
    merged: String,
    folded: String,
    doomed: String,
    /// The SELECT field `region` on opportunities and its first option.
    field: String,
    option: String,
    /// The first option of the SELECT field `tier` on contacts.
    contact_option: String,
    /// A private view of the admin's, and one the walk deletes.
    view: String,
    doomed_view: String,
}

impl Depth {
    pub(super) fn tags(&self) -> Vec<String> {
        vec![self.tag.clone(), self.doomed.clone()]
    }
    pub(super) fn fields(&self) -> Vec<String> {
        vec![self.field.clone()]
    }
    pub(super) fn views(&self) -> Vec<String> {
        vec![self.view.clone()]
    }
    pub(super) fn options(&self) -> Vec<String> {
        vec![self.option.clone(), self.contact_option.clone()]
    }
}

/// Gives a tenant four tags and a SELECT field on each entity.
pub(super) async fn populate(app: &TestApp, t: &str, tag: &str) -> Depth {
    let mut tags = Vec::new();
    for n in ["kept", "merged", "folded", "doomed"] {
        tags.push(s(&ok(
            app,
            t,
            "mutation($n: String!) { createTag(input: { name: $n }) { id } }",
            json!({ "n": format!("{tag} {n}") }),
        )
        .await["createTag"]["id"]));
    }
    let field = |entity: &str, key: &str| json!({ "i": { "entity": entity, "key": key, "label": key, "kind": "SELECT", "options": ["One", "Two"] } });
    let create = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { id options { id } } }";
    let o = ok(app, t, create, field("OPPORTUNITY", "region")).await;
    let c = ok(app, t, create, field("CONTACT", "tier")).await;
    let [tag, merged, folded, doomed] = <[String; 4]>::try_from(tags).unwrap();
    let mut views = Vec::new();
    for n in ["view", "doomed view"] {
        views.push(s(&ok(
            app,
            t,
            "mutation($n: String!) { createSavedView(input: { name: $n }) { id } }",
            json!({ "n": format!("{tag} {n}") }),
        )
        .await["createSavedView"]["id"]));
    }
    let [view, doomed_view] = <[String; 2]>::try_from(views).unwrap();
    Depth {
        tag,
        merged,
        folded,
        doomed,
        field: s(&o["createCustomField"]["id"]),
        option: ids(&o["createCustomField"]["options"])[0].clone(),
        contact_option: ids(&c["createCustomField"]["options"])[0].clone(),
        view,
        doomed_view,
    }
}

/// The probes, in an order in which their controls all succeed.
pub(super) fn probes(a: &World) -> Vec<Probe> {
    let d = &a.depth;
    let probe = |pos, kind, query, vars: Value, good: &String| Probe {
        pos,
        kind,
        query,
        vars,
        good: good.clone(),
    };
    let list = "query($f: OpportunityFilter) { opportunities(filter: $f) { totalCount } }";
    let contacts = "query($f: ContactFilter) { contacts(filter: $f) { totalCount } }";
    let create = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }";
    let update = "mutation($id: ID!, $i: UpdateOpportunityInput!) { updateOpportunity(id: $id, input: $i) { id } }";
    let create_contact = "mutation($i: ContactInput!) { createContact(input: $i) { id } }";
    let update_contact =
        "mutation($id: ID!, $i: UpdateContactInput!) { updateContact(id: $id, input: $i) { id } }";
    let new_opp = |extra: Value| {
        let mut i = json!({ "title": "Probe", "stageId": a.stages[1], "potential": "10" });
        for (k, v) in extra.as_object().unwrap() {
            i[k] = v.clone();
        }
        json!({ "i": i })
    };
    let region = |id: &str| json!([{ "key": "region", "optionIds": [id] }]);
    let tier = |id: &str| json!([{ "key": "tier", "optionIds": [id] }]);
    let bulk = "mutation($ids: [ID!], $f: OpportunityFilter, $c: BulkOpportunityChangeInput!) { bulkUpdateOpportunities(ids: $ids, filter: $f, change: $c, dryRun: true) { matched } }";
    let bulk_delete = "mutation($ids: [ID!], $f: OpportunityFilter) { bulkDeleteOpportunities(ids: $ids, filter: $f, dryRun: true) { matched } }";
    let tagged = json!({ "addTagIds": [d.tag] });
    let mut out = vec![
        probe(
            "Mutation.bulkUpdateOpportunities(ids)",
            Kind::Opportunity,
            bulk,
            json!({ "ids": [BAD], "c": tagged }),
            &a.opp1,
        ),
        probe(
            "Mutation.bulkUpdateOpportunities(change.ownerId)",
            Kind::User,
            bulk,
            json!({ "ids": [a.opp1], "c": { "ownerId": BAD } }),
            &a.admin,
        ),
        probe(
            "Mutation.bulkUpdateOpportunities(change.stageId)",
            Kind::Stage,
            bulk,
            json!({ "ids": [a.opp1], "c": { "stageId": BAD } }),
            &a.stages[1],
        ),
        probe(
            "Mutation.bulkUpdateOpportunities(change.addTagIds)",
            Kind::Tag,
            bulk,
            json!({ "ids": [a.opp1], "c": { "addTagIds": [BAD] } }),
            &d.tag,
        ),
        probe(
            "Mutation.bulkUpdateOpportunities(change.removeTagIds)",
            Kind::Tag,
            bulk,
            json!({ "ids": [a.opp1], "c": { "removeTagIds": [BAD] } }),
            &d.tag,
        ),
        probe(
            "Mutation.bulkUpdateOpportunities(change.customFields.optionIds)",
            Kind::CustomFieldOption,
            bulk,
            json!({ "ids": [a.opp1], "c": { "customFields": region(BAD) } }),
            &d.option,
        ),
        probe(
            "Mutation.bulkDeleteOpportunities(ids)",
            Kind::Opportunity,
            bulk_delete,
            json!({ "ids": [BAD] }),
            &a.opp1,
        ),
    ];
    let filters: [(&'static str, Kind, Value, &String); 8] = [
        (
            "filter.pipelineId",
            Kind::Pipeline,
            json!({ "pipelineId": BAD }),
            &a.pipeline,
        ),
        (
            "filter.stageIds",
            Kind::Stage,
            json!({ "stageIds": [BAD] }),
            &a.stages[0],
        ),
        (
            "filter.ownerId",
            Kind::User,
            json!({ "ownerId": BAD }),
            &a.admin,
        ),
        (
            "filter.sourceId",
            Kind::Source,
            json!({ "sourceId": BAD }),
            &a.source,
        ),
        (
            "filter.contactId",
            Kind::Contact,
            json!({ "contactId": BAD }),
            &a.person,
        ),
        (
            "filter.tags.anyOf",
            Kind::Tag,
            json!({ "tags": { "anyOf": [BAD] } }),
            &d.tag,
        ),
        (
            "filter.tags.allOf",
            Kind::Tag,
            json!({ "tags": { "allOf": [BAD] } }),
            &d.tag,
        ),
        (
            "filter.customFields.anyOptionIds",
            Kind::CustomFieldOption,
            json!({ "customFields": [{ "key": "region", "anyOptionIds": [BAD] }] }),
            &d.option,
        ),
    ];
    for (path, kind, f, good) in filters {
        // positions are named once per test run: leaking them is harmless
        let pos = |m: &str| -> &'static str {
            Box::leak(format!("Mutation.{m}({path})").into_boxed_str())
        };
        out.push(probe(
            pos("bulkUpdateOpportunities"),
            kind,
            bulk,
            json!({ "f": f, "c": tagged }),
            good,
        ));
        out.push(probe(
            pos("bulkDeleteOpportunities"),
            kind,
            bulk_delete,
            json!({ "f": f }),
            good,
        ));
        let pos = |m: &str| -> &'static str {
            Box::leak(format!("Mutation.{m}(input.{path})").into_boxed_str())
        };
        out.push(probe(
            pos("createSavedView"),
            kind,
            "mutation($i: CreateSavedViewInput!) { createSavedView(input: $i) { id } }",
            json!({ "i": { "name": path, "filter": f } }),
            good,
        ));
        out.push(probe(pos("updateSavedView"), kind, "mutation($id: ID!, $i: UpdateSavedViewInput!) { updateSavedView(id: $id, input: $i) { id } }", json!({ "id": d.view, "i": { "filter": f } }), good));
    }
    out.push(probe(
        "Query.opportunities(view)",
        Kind::SavedView,
        "query($v: ID) { opportunities(view: $v) { totalCount } }",
        json!({ "v": BAD }),
        &d.view,
    ));
    out.push(probe(
        "Mutation.updateSavedView(id)",
        Kind::SavedView,
        "mutation($id: ID!) { updateSavedView(id: $id, input: { columns: [\"title\"] }) { id } }",
        json!({ "id": BAD }),
        &d.view,
    ));
    out.push(probe(
        "Mutation.deleteSavedView(id)",
        Kind::SavedView,
        "mutation($id: ID!) { deleteSavedView(id: $id) }",
        json!({ "id": BAD }),
        &d.doomed_view,
    ));
    out.extend(vec![
        probe(
            "Query.opportunities(filter.tags.anyOf)",
            Kind::Tag,
            list,
            json!({ "f": { "tags": { "anyOf": [BAD] } } }),
            &d.tag,
        ),
        probe(
            "Query.opportunities(filter.tags.allOf)",
            Kind::Tag,
            list,
            json!({ "f": { "tags": { "allOf": [BAD] } } }),
            &d.tag,
        ),
        probe(
            "Query.opportunities(filter.customFields.anyOptionIds)",
            Kind::CustomFieldOption,
            list,
            json!({ "f": { "customFields": [{ "key": "region", "anyOptionIds": [BAD] }] } }),
            &d.option,
        ),
        probe(
            "Query.contacts(filter.tags.anyOf)",
            Kind::Tag,
            contacts,
            json!({ "f": { "tags": { "anyOf": [BAD] } } }),
            &d.tag,
        ),
        probe(
            "Query.contacts(filter.tags.allOf)",
            Kind::Tag,
            contacts,
            json!({ "f": { "tags": { "allOf": [BAD] } } }),
            &d.tag,
        ),
        probe(
            "Query.contacts(filter.customFields.anyOptionIds)",
            Kind::CustomFieldOption,
            contacts,
            json!({ "f": { "customFields": [{ "key": "tier", "anyOptionIds": [BAD] }] } }),
            &d.contact_option,
        ),
        probe(
            "Mutation.createOpportunity(input.tagIds)",
            Kind::Tag,
            create,
            new_opp(json!({ "tagIds": [BAD] })),
            &d.tag,
        ),
        probe(
            "Mutation.createOpportunity(input.customFields.optionIds)",
            Kind::CustomFieldOption,
            create,
            new_opp(json!({ "customFields": region(BAD) })),
            &d.option,
        ),
        probe(
            "Mutation.updateOpportunity(input.tagIds)",
            Kind::Tag,
            update,
            json!({ "id": a.opp1, "i": { "tagIds": [BAD] } }),
            &d.tag,
        ),
        probe(
            "Mutation.updateOpportunity(input.customFields.optionIds)",
            Kind::CustomFieldOption,
            update,
            json!({ "id": a.opp1, "i": { "customFields": region(BAD) } }),
            &d.option,
        ),
        probe(
            "Mutation.createContact(input.tagIds)",
            Kind::Tag,
            create_contact,
            json!({ "i": { "kind": "PERSON", "name": "Probe", "tagIds": [BAD] } }),
            &d.tag,
        ),
        probe(
            "Mutation.createContact(input.customFields.optionIds)",
            Kind::CustomFieldOption,
            create_contact,
            json!({ "i": { "kind": "PERSON", "name": "Probe", "customFields": tier(BAD) } }),
            &d.contact_option,
        ),
        probe(
            "Mutation.updateContact(input.tagIds)",
            Kind::Tag,
            update_contact,
            json!({ "id": a.person, "i": { "tagIds": [BAD] } }),
            &d.tag,
        ),
        probe(
            "Mutation.updateContact(input.customFields.optionIds)",
            Kind::CustomFieldOption,
            update_contact,
            json!({ "id": a.person, "i": { "customFields": tier(BAD) } }),
            &d.contact_option,
        ),
        probe(
            "Mutation.updateTag(id)",
            Kind::Tag,
            "mutation($id: ID!) { updateTag(id: $id, input: { color: \"#123456\" }) { id } }",
            json!({ "id": BAD }),
            &d.tag,
        ),
        probe(
            "Mutation.mergeTags(targetId)",
            Kind::Tag,
            "mutation($s: [ID!]!, $t: ID!) { mergeTags(sourceIds: $s, targetId: $t) { id } }",
            json!({ "s": [d.merged], "t": BAD }),
            &d.tag,
        ),
        probe(
            "Mutation.mergeTags(sourceIds)",
            Kind::Tag,
            "mutation($s: [ID!]!, $t: ID!) { mergeTags(sourceIds: $s, targetId: $t) { id } }",
            json!({ "s": [BAD], "t": d.tag }),
            &d.folded,
        ),
        probe(
            "Mutation.deleteTag(id)",
            Kind::Tag,
            "mutation($id: ID!) { deleteTag(id: $id) }",
            json!({ "id": BAD }),
            &d.doomed,
        ),
        probe(
            "Mutation.updateCustomField(id)",
            Kind::CustomField,
            "mutation($id: ID!) { updateCustomField(id: $id, input: { label: \"Probed\" }) { id } }",
            json!({ "id": BAD }),
            &d.field,
        ),
        probe(
            "Mutation.addCustomFieldOption(fieldId)",
            Kind::CustomField,
            "mutation($id: ID!) { addCustomFieldOption(fieldId: $id, label: \"Three\") { id } }",
            json!({ "id": BAD }),
            &d.field,
        ),
        probe(
            "Mutation.updateCustomFieldOption(id)",
            Kind::CustomFieldOption,
            "mutation($id: ID!) { updateCustomFieldOption(id: $id, input: { label: \"Uno\" }) { id } }",
            json!({ "id": BAD }),
            &d.option,
        ),
    ]);
    out
}
