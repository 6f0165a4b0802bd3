//! GraphiQL, served by the binary itself: its scripts and styles are
//! embedded at build time (see `graphiql/LICENSES.txt` for what and which
//! versions), so the page works offline, behind a firewall and with a
//! strict Content-Security-Policy. Queries and mutations go over HTTP,
//! subscriptions over the same `/graphql` WebSocket, and the Headers tab's
//! `authorization` reaches the WebSocket's `connection_init` too.
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::graphql::GraphiqlEnabled;

/// Bumped with the vendored files, so browsers may cache them for good.
const VERSION: &str = "4.1.2-1";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("graphiql/graphiql.min.js"),
    },
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("graphiql/graphiql.min.css"),
    },
    Asset {
        name: "init.js",
        content_type: "text/javascript; charset=utf-8",
        body: INIT_JS.as_bytes(),
    },
    Asset {
        name: "LICENSES.txt",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("graphiql/LICENSES.txt"),
    },
];

/// Starts GraphiQL against this origin. A separate file rather than an
/// inline script, so the page's policy needs no `'unsafe-inline'` scripts.
const INIT_JS: &str = r#"(function () {
  var url = new URL('/graphql', window.location.href);
  var ws = new URL(url.href);
  ws.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  // Subscriptions open a graphql-ws connection per operation; GraphiQL
  // passes the Headers tab (its "authorization") as connection_init's
  // payload, which is where this server reads the token.
  var fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: ws.href });
  var help = [
    '# Welcome to the CRM API.',
    '#',
    '# The login below is the demo tenant of `crm-server seed --demo`.',
    '# Sign in with the login mutation below, then put its accessToken in',
    '# the Headers tab:  { "authorization": "Bearer <accessToken>" }',
    '# Subscriptions (opportunityEvents, activityEvents) run here too.',
    '',
    'mutation Login {',
    '  login(input: { tenantSlug: "demo", email: "admin@demo.test", password: "crm-seed-password" }) {',
    '    accessToken',
    '  }',
    '}',
    '',
  ].join('\n');
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: help,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    })
  );
})();
"#;

/// The page's policy: everything from this origin, no inline scripts,
/// inline styles (React sets style attributes) and data: fonts and images
/// (the stylesheet embeds them), HTTP and WebSocket to this origin only,
/// no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The HTML page `GET /graphql` answers a browser.
pub fn page() -> HttpResponse {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>CRM API · GraphiQL</title>
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="/graphiql/{VERSION}/graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphiql/{VERSION}/react.production.min.js"></script>
  <script src="/graphiql/{VERSION}/react-dom.production.min.js"></script>
  <script src="/graphiql/{VERSION}/graphiql.min.js"></script>
  <script src="/graphiql/{VERSION}/init.js"></script>
</body>
</html>
"#
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html)
}

/// `GET /graphiql/{version}/{file}`: an embedded asset, cacheable for a
/// year (its URL changes with its content). Not found when GraphiQL is off,
/// for another version, or for any other name.
pub async fn asset(
    path: web::Path<(String, String)>,
    enabled: web::Data<GraphiqlEnabled>,
) -> HttpResponse {
    let (version, name) = path.into_inner();
    let found = ASSETS.iter().find(|a| a.name == name);
    match found {
        Some(a) if enabled.0 && version == VERSION => HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(a.body),
        _ => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}
