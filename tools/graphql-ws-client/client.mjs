// Drives the server with the unmodified graphql-ws client (createClient),
// as a browser or mobile app would. Exits non-zero on the first failure.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import assert from 'node:assert/strict';

const http = process.argv[2];
if (!http) throw new Error('usage: node client.mjs http://127.0.0.1:PORT/graphql');
const url = http.replace(/^http/, 'ws');
let checks = 0;
const check = (name) => { checks += 1; console.log(`ok ${checks} - ${name}`); };

async function gql(query, variables, token) {
  const res = await fetch(http, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

const withTimeout = (p, ms, what) => Promise.race([
  p, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
]);

const stamp = Date.now();
const signUp = await gql(
  'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }',
  { i: { tenantName: `WS client ${stamp}`, name: 'Owner', email: `ws${stamp}@example.com`, password: 'correct horse battery' } },
);
const token = signUp.signUp.accessToken;
const { pipelines } = await gql('{ pipelines { id stages { id } } }', {}, token);
const stage = pipelines[0].stages[0].id;

let acknowledged = false;
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: () => ({ authorization: `Bearer ${token}` }),
  retryAttempts: 0,
  lazy: false,
  on: { connected: () => { acknowledged = true; } },
});

// a subscription: the next committed change arrives as an event
const events = client.iterate({
  query: 'subscription($p: ID) { opportunityEvents(pipelineId: $p) { kind opportunityId opportunity { title } } }',
  variables: { p: pipelines[0].id },
});
await new Promise((r) => setTimeout(r, 500));
assert.ok(acknowledged, 'connection_ack received');
check('connection_init with the authorization payload is acknowledged');
const created = await gql(
  'mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }',
  { i: { title: 'From graphql-ws', stageId: stage, potential: '42' } },
  token,
);
const first = await withTimeout(events.next(), 5000, 'opportunity event');
assert.equal(first.value.data.opportunityEvents.kind, 'CREATED');
assert.equal(first.value.data.opportunityEvents.opportunityId, created.createOpportunity.id);
assert.equal(first.value.data.opportunityEvents.opportunity.title, 'From graphql-ws');
check('a subscription receives the CREATED event of a mutation');
await events.return();
check('a subscription completes from the client side');

// a query over the socket: one result, then complete
const me = client.iterate({ query: '{ me { id } }' });
const result = await withTimeout(me.next(), 5000, 'query result');
assert.ok(result.value.data.me.id);
const end = await withTimeout(me.next(), 5000, 'query completion');
assert.equal(end.done, true);
check('a query runs over the socket and completes');

// a foreign or unknown id: an `error` message with NOT_FOUND
const missing = client.iterate({
  query: 'subscription($p: ID) { opportunityEvents(pipelineId: $p) { kind } }',
  variables: { p: '00000000-0000-4000-8000-000000000000' },
});
await assert.rejects(withTimeout(missing.next(), 5000, 'error message'), (errors) => {
  assert.ok(Array.isArray(errors), `expected GraphQL errors, got ${errors}`);
  assert.equal(errors[0].extensions.code, 'NOT_FOUND');
  return true;
});
check('an unknown pipeline is an error message with NOT_FOUND');
await client.dispose();

// a bad token: the socket closes with 4403
const rejected = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: 'Bearer not-a-token' },
  retryAttempts: 0,
});
await assert.rejects(
  withTimeout(rejected.iterate({ query: '{ me { id } }' }).next(), 5000, 'close'),
  (e) => { assert.equal(e.code, 4403, `close code ${e.code}`); return true; },
);
check('a bad token closes with 4403');
await rejected.dispose();

console.log(`graphql-ws client: ${checks} checks passed`);
process.exit(0);
