//! Bounds on what one GraphQL document may ask for, checked before
//! async-graphql validates or executes it.
//!
//! async-graphql's validation and execution expand fragment spreads every
//! time they are used, so a 1 KB document of fragments that each spread
//! the previous one twice costs 2^n: seconds of CPU and gigabytes of
//! memory from one anonymous request. Everything here is linear in the
//! size of the document: tokens and nesting are counted on the text
//! before parsing, and the expanded size of the operation is computed
//! with each fragment measured once.
use std::collections::HashMap;

use async_graphql::parser::types::{
    Directive, ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Request, ServerError, Value};

use crate::domain::clean_text;
use crate::error::codes;

/// Lexical tokens per document. The standard introspection query has
/// about 300; a large screen query fewer than 1,000.
pub const MAX_TOKENS: usize = 2_000;
/// Nesting of `{`, `[` and `(` in the text: bounds the parser's recursion.
pub const MAX_NESTING: usize = 64;
/// Fields in the document once every fragment spread is expanded.
pub const MAX_EXPANDED_FIELDS: usize = 5_000;
/// Nesting of fields in an operation, fragments expanded. Screens of this
/// API nest 6 deep (board → stages → opportunities → edges → node →
/// contact); the limit leaves room without allowing abuse.
pub const MAX_DEPTH: usize = 12;
/// Nesting of an operation that only introspects (`__schema`, `__type`).
/// graphql-js's standard introspection query (what GraphiQL, codegen and
/// Apollo Sandbox send) nests 14 deep through its nine `ofType` levels.
pub const MAX_INTROSPECTION_DEPTH: usize = 16;
/// Cost of an operation as async-graphql computes it: connections count
/// their page size (100 at most) times what each node costs, plain lists
/// their typical length. The realistic screens of `tests/api/screens.graphql`
/// cost 61 (forecast) to 9,401 (the 100-row table with 5 activities each);
/// three connections of 100 nested in one another (a million nodes) cost
/// 3,030,301.
pub const MAX_COST: usize = 20_000;
/// Directives on one field, fragment or operation.
pub const MAX_DIRECTIVES_PER_LOCATION: usize = 4;
/// Directives in the whole document.
pub const MAX_DIRECTIVES: usize = 50;
/// Aliases in the whole document.
pub const MAX_ALIASES: usize = 15;
/// Root fields that verify a password, per document: each one costs a
/// password hash, so aliases must not multiply them.
const PASSWORD_FIELDS: [&str; 2] = ["login", "changePassword"];
/// The only executable directives the server knows.
const KNOWN_DIRECTIVES: [&str; 2] = ["skip", "include"];

/// Why a request was refused before execution, with its error code.
pub struct Refusal {
    pub code: &'static str,
    pub error: Box<ServerError>,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            error: Box::new(ServerError::new(message, None)),
        }
    }
}

const VALIDATION: &str = codes::GRAPHQL_VALIDATION_FAILED;

/// Counts the lexical tokens of a GraphQL document and its deepest
/// bracket nesting, stopping early once either limit is passed.
/// Approximate where it cannot matter (a malformed number counts as one
/// token), exact for the punctuation, names, strings and comments that
/// make up a real document.
fn scan(src: &str) -> Result<(), Refusal> {
    let bytes = src.as_bytes();
    let mut i = 0usize;
    let mut tokens = 0usize;
    let mut depth = 0usize;
    let at = |k: usize| bytes.get(k).copied();
    while let Some(b) = at(i) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while at(i).is_some_and(|c| c != b'\n' && c != b'\r') {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes.get(i..i + 3) == Some(b"\"\"\"") => {
                i += 3;
                loop {
                    match at(i) {
                        None => break,
                        Some(b'\\') if bytes.get(i + 1..i + 4) == Some(b"\"\"\"") => i += 4,
                        Some(b'"') if bytes.get(i..i + 3) == Some(b"\"\"\"") => {
                            i += 3;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'"' => {
                i += 1;
                loop {
                    match at(i) {
                        None | Some(b'\n') | Some(b'\r') => break,
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Refusal::new(
                        VALIDATION,
                        format!("the document nests more than {MAX_NESTING} levels of brackets"),
                    ));
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                i += 1;
                while at(i).is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-')
                }) {
                    i += 1;
                }
            }
            b'.' if bytes.get(i..i + 3) == Some(b"...") => i += 3,
            _ => {
                // one punctuator, or one (possibly multi-byte) stray char
                i += src
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .map_or(1, char::len_utf8);
            }
        }
        tokens += 1;
        if tokens > MAX_TOKENS {
            return Err(Refusal::new(
                VALIDATION,
                format!("the document has more than {MAX_TOKENS} tokens"),
            ));
        }
    }
    Ok(())
}

/// Counts per document: aliases, directives, password-checking fields,
/// and refuses unknown directives on the way.
#[derive(Default)]
struct Tally {
    aliases: usize,
    directives: usize,
    password_fields: usize,
}

impl Tally {
    fn directives(&mut self, list: &[Positioned<Directive>]) -> Result<(), Refusal> {
        if list.len() > MAX_DIRECTIVES_PER_LOCATION {
            return Err(Refusal::new(
                VALIDATION,
                format!(
                    "at most {MAX_DIRECTIVES_PER_LOCATION} directives may be used in one place"
                ),
            ));
        }
        for d in list {
            let name = d.node.name.node.as_str();
            if !KNOWN_DIRECTIVES.contains(&name) {
                let mut e = ServerError::new(format!("unknown directive \"@{name}\""), Some(d.pos));
                e.locations = vec![d.pos];
                return Err(Refusal {
                    code: VALIDATION,
                    error: Box::new(e),
                });
            }
        }
        self.directives += list.len();
        Ok(())
    }

    fn selection_set(&mut self, set: &SelectionSet, root: bool) -> Result<(), Refusal> {
        for sel in &set.items {
            match &sel.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    self.aliases += usize::from(f.alias.is_some());
                    if root && PASSWORD_FIELDS.contains(&f.name.node.as_str()) {
                        self.password_fields += 1;
                    }
                    self.directives(&f.directives)?;
                    self.selection_set(&f.selection_set.node, false)?;
                }
                Selection::InlineFragment(i) => {
                    self.directives(&i.node.directives)?;
                    self.selection_set(&i.node.selection_set.node, root)?;
                }
                Selection::FragmentSpread(s) => self.directives(&s.node.directives)?,
            }
        }
        Ok(())
    }
}

/// Fields of a selection set with every spread expanded, each fragment
/// measured once (memoised). A fragment cycle counts as over the limit;
/// validation would refuse it anyway.
struct Expander<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    sizes: HashMap<&'a str, usize>,
    depths: HashMap<&'a str, usize>,
    in_progress: Vec<&'a str>,
}

impl<'a> Expander<'a> {
    fn size(&mut self, set: &'a SelectionSet) -> usize {
        let mut total = 0usize;
        for sel in &set.items {
            let n = match &sel.node {
                Selection::Field(f) => 1usize.saturating_add(self.size(&f.node.selection_set.node)),
                Selection::InlineFragment(i) => self.size(&i.node.selection_set.node),
                Selection::FragmentSpread(s) => self.fragment(s.node.fragment_name.node.as_str()),
            };
            total = total.saturating_add(n);
            if total > MAX_EXPANDED_FIELDS {
                return total;
            }
        }
        total
    }

    /// Deepest nesting of fields under `set`, spreads expanded.
    fn depth(&mut self, set: &'a SelectionSet) -> usize {
        let mut deepest = 0usize;
        for sel in &set.items {
            let n = match &sel.node {
                Selection::Field(f) => {
                    1usize.saturating_add(self.depth(&f.node.selection_set.node))
                }
                Selection::InlineFragment(i) => self.depth(&i.node.selection_set.node),
                Selection::FragmentSpread(s) => {
                    self.fragment_depth(s.node.fragment_name.node.as_str())
                }
            };
            deepest = deepest.max(n);
        }
        deepest
    }

    fn fragment_depth(&mut self, name: &'a str) -> usize {
        if let Some(n) = self.depths.get(name) {
            return *n;
        }
        if self.in_progress.contains(&name) {
            return usize::MAX;
        }
        let Some((key, def)) = self.fragments.get_key_value(name) else {
            return 0;
        };
        self.in_progress.push(key.as_str());
        let n = self.depth(&def.node.selection_set.node);
        self.in_progress.pop();
        self.depths.insert(key.as_str(), n);
        n
    }

    fn fragment(&mut self, name: &'a str) -> usize {
        if let Some(n) = self.sizes.get(name) {
            return *n;
        }
        if self.in_progress.contains(&name) {
            return usize::MAX;
        }
        let Some((key, def)) = self.fragments.get_key_value(name) else {
            // an unknown fragment: validation names it
            return 0;
        };
        self.in_progress.push(key.as_str());
        let n = self.size(&def.node.selection_set.node);
        self.in_progress.pop();
        self.sizes.insert(key.as_str(), n);
        n
    }
}

/// Whether every root field of an operation is `__schema`, `__type` or
/// `__typename`.
fn introspection_only(set: &SelectionSet) -> bool {
    set.items.iter().all(|sel| match &sel.node {
        Selection::Field(f) => f.node.name.node.starts_with("__"),
        Selection::InlineFragment(_) | Selection::FragmentSpread(_) => false,
    })
}

/// `12345` as `12,345`, as the cost messages print figures.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && digits.len().saturating_sub(i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Refuses an operation whose cost, as async-graphql's validation
/// computes it from each field's complexity, is over [`MAX_COST`], naming
/// both figures; and reports the cost of every other operation in the
/// response's `extensions.cost`, so a client developer sees how close a
/// screen is to the limit.
pub struct CostLimit;

impl async_graphql::extensions::ExtensionFactory for CostLimit {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(CostLimitExtension::default())
    }
}

#[derive(Default)]
struct CostLimitExtension {
    cost: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for CostLimitExtension {
    async fn validation(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        next: async_graphql::extensions::NextValidation<'_>,
    ) -> Result<async_graphql::ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.complexity > MAX_COST {
            return Err(vec![ServerError::new(
                format!(
                    "query cost {} exceeds the limit of {}: ask for fewer items per page or fewer nested lists",
                    thousands(result.complexity),
                    thousands(MAX_COST)
                ),
                None,
            )]);
        }
        self.cost
            .store(result.complexity, std::sync::atomic::Ordering::Relaxed);
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        let mut response = next.run(ctx, operation_name).await;
        let cost = self.cost.load(std::sync::atomic::Ordering::Relaxed);
        response.extensions.insert(
            "cost".to_owned(),
            Value::from_json(serde_json::json!({ "requested": cost, "limit": MAX_COST }))
                .unwrap_or(Value::Null),
        );
        response
    }
}

/// With `INTROSPECTION=false`, an operation that asks for `__schema` or
/// `__type` is refused with a message that says so (async-graphql alone
/// would answer `null` without a word).
pub struct NoIntrospection;

impl async_graphql::extensions::ExtensionFactory for NoIntrospection {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(NoIntrospection)
    }
}

fn introspects(set: &SelectionSet) -> bool {
    set.items.iter().any(|sel| match &sel.node {
        Selection::Field(f) => {
            matches!(f.node.name.node.as_str(), "__schema" | "__type")
                || introspects(&f.node.selection_set.node)
        }
        Selection::InlineFragment(i) => introspects(&i.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for NoIntrospection {
    async fn prepare_request(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        mut request: Request,
        next: async_graphql::extensions::NextPrepareRequest<'_>,
    ) -> async_graphql::ServerResult<Request> {
        let asks = request.parsed_query().is_ok_and(|doc| {
            doc.operations
                .iter()
                .any(|(_, op)| introspects(&op.node.selection_set.node))
                || doc
                    .fragments
                    .values()
                    .any(|f| introspects(&f.node.selection_set.node))
        });
        if asks {
            return Err(ServerError::new(
                "introspection is turned off on this server (INTROSPECTION=false): use the published schema.graphql",
                None,
            ));
        }
        next.run(ctx, request).await
    }
}

fn check_document(doc: &ExecutableDocument) -> Result<(), Refusal> {
    let mut tally = Tally::default();
    let mut expander = Expander {
        fragments: &doc.fragments,
        sizes: HashMap::new(),
        depths: HashMap::new(),
        in_progress: Vec::new(),
    };
    let mut expanded = 0usize;
    for (_, op) in doc.operations.iter() {
        let set = &op.node.selection_set.node;
        let (limit, what) = if introspection_only(set) {
            (MAX_INTROSPECTION_DEPTH, "an introspection query")
        } else {
            (MAX_DEPTH, "an operation")
        };
        let depth = expander.depth(set);
        if depth > limit {
            return Err(Refusal::new(
                VALIDATION,
                format!(
                    "query depth {} exceeds the limit of {limit} for {what}",
                    if depth == usize::MAX {
                        "(a fragment cycle)".to_owned()
                    } else {
                        depth.to_string()
                    }
                ),
            ));
        }
        tally.directives(&op.node.directives)?;
        for v in &op.node.variable_definitions {
            tally.directives(&v.node.directives)?;
        }
        tally.selection_set(set, true)?;
        expanded = expanded.saturating_add(expander.size(set));
    }
    for (name, def) in &doc.fragments {
        tally.directives(&def.node.directives)?;
        tally.selection_set(&def.node.selection_set.node, false)?;
        expanded = expanded.saturating_add(expander.fragment(name.as_str()));
    }
    if expanded > MAX_EXPANDED_FIELDS {
        return Err(Refusal::new(
            VALIDATION,
            format!(
                "the document selects more than {MAX_EXPANDED_FIELDS} fields once its fragments are expanded"
            ),
        ));
    }
    if tally.aliases > MAX_ALIASES {
        return Err(Refusal::new(
            VALIDATION,
            format!(
                "the document uses {} aliases; at most {MAX_ALIASES} are allowed",
                tally.aliases
            ),
        ));
    }
    if tally.directives > MAX_DIRECTIVES {
        return Err(Refusal::new(
            VALIDATION,
            format!("the document uses more than {MAX_DIRECTIVES} directives"),
        ));
    }
    if tally.password_fields > 1 {
        return Err(Refusal::new(
            VALIDATION,
            "a document may check one password: send one login or changePassword per request",
        ));
    }
    Ok(())
}

fn control_char_refusal(path: &str) -> Refusal {
    let mut error = ServerError::new(format!("{path} must not contain control characters"), None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", codes::BAD_USER_INPUT);
    ext.set("field", path);
    error.extensions = Some(ext);
    Refusal {
        code: codes::BAD_USER_INPUT,
        error: Box::new(error),
    }
}

/// Finds the first string holding a control character, and its path.
fn dirty_value(v: &Value, path: &mut Vec<String>) -> bool {
    match v {
        Value::String(s) => !clean_text(s),
        Value::List(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(i.to_string());
            let found = dirty_value(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        Value::Object(map) => map.iter().any(|(k, item)| {
            path.push(k.to_string());
            let found = dirty_value(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

fn dirty_arguments(set: &SelectionSet, path: &mut Vec<String>) -> bool {
    set.items.iter().any(|sel| match &sel.node {
        Selection::Field(f) => {
            f.node.arguments.iter().any(|(name, value)| {
                path.push(name.node.to_string());
                // variables are checked on their own; here they read as null
                let literal = value
                    .node
                    .clone()
                    .into_const_with(|_| Ok::<_, ()>(Value::Null))
                    .unwrap_or_default();
                let found = dirty_value(&literal, path);
                if !found {
                    path.clear();
                }
                found
            }) || dirty_arguments(&f.node.selection_set.node, path)
        }
        Selection::InlineFragment(i) => dirty_arguments(&i.node.selection_set.node, path),
        Selection::FragmentSpread(_) => false,
    })
}

/// Control characters in any string of the variables.
fn check_variables(variables: &async_graphql::Variables) -> Result<(), Refusal> {
    let mut path = Vec::new();
    for (name, value) in variables.iter() {
        path.clear();
        path.push(name.to_string());
        if dirty_value(value, &mut path) {
            return Err(control_char_refusal(&path.join(".")));
        }
    }
    Ok(())
}

/// Control characters in the document's literal string arguments.
fn check_literals(doc: &ExecutableDocument) -> Result<(), Refusal> {
    let mut path = Vec::new();
    let sets = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node));
    for set in sets {
        if dirty_arguments(set, &mut path) {
            return Err(control_char_refusal(&path.join(".")));
        }
    }
    Ok(())
}

/// Screens a request before it reaches the executor, on every transport:
/// size, nesting, expansion, aliases, directives, password fields and
/// control characters. Parses the document (async-graphql keeps it).
pub fn screen(request: &mut Request) -> Result<(), Refusal> {
    scan(&request.query)?;
    let doc = match request.parsed_query() {
        Ok(doc) => doc,
        Err(e) => {
            return Err(Refusal {
                code: codes::GRAPHQL_PARSE_FAILED,
                error: Box::new(e),
            });
        }
    };
    check_document(doc)?;
    check_literals(doc)?;
    check_variables(&request.variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(q: &str) -> Option<String> {
        let mut r = Request::new(q);
        screen(&mut r).err().map(|e| e.error.message)
    }

    #[test]
    fn fragment_bombs_are_refused_quickly() {
        let mut q = String::from("query { ...f30 } fragment f0 on Query { __typename } ");
        for i in 1..=30 {
            q.push_str(&format!(
                "fragment f{i} on Query {{ ...f{p} ...f{p} }} ",
                p = i - 1
            ));
        }
        // 2^30 field visits if expanded in full: the expansion budget stops
        // it (no wall-clock bound here: CI machines are too noisy for one)
        let msg = refused(&q).unwrap_or_default();
        assert!(msg.contains("expanded"), "{msg}");
    }

    #[test]
    fn limits_are_counted() {
        assert!(refused("{ __typename }").is_none());
        let many = format!("{{ {} }}", "__typename ".repeat(2_001));
        assert!(refused(&many).unwrap_or_default().contains("tokens"));
        let deep = format!("{}{}", "{ a ".repeat(70), "}".repeat(70));
        assert!(refused(&deep).unwrap_or_default().contains("nests"));
        assert!(
            refused("{ __typename @foo }")
                .unwrap_or_default()
                .contains("unknown directive")
        );
        assert!(
            refused("mutation { a: login(input: {}) { accessToken } b: login(input: {}) { accessToken } }")
                .unwrap_or_default()
                .contains("one login")
        );
        assert!(refused("{ a: __typename # comment \"\n }").is_none());
    }

    #[test]
    fn control_characters_are_refused_with_their_path() {
        let mut r = Request::new("query($i: X) { a(title: \"ok\") }").variables(
            async_graphql::Variables::from_json(serde_json::json!({ "i": { "title": "a\u{0}b" } })),
        );
        let e = screen(&mut r).err().map(|e| e.error.message);
        assert_eq!(
            e.as_deref(),
            Some("i.title must not contain control characters")
        );
        assert!(refused("{ a(title: \"x\\u0000y\") }").is_some());
        assert!(refused("{ a(title: \"line\\nbreak\\ttab\") }").is_none());
    }
}
