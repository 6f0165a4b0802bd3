// Outgoing webhooks, verified by the reference Standard Webhooks library
// (npm `standardwebhooks`, unmodified): a local receiver checks every
// delivery's signature, order and payload, then the delivery log agrees.
// Needs a server allowed to deliver to http://127.0.0.1 (run.sh starts it
// with WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { check, post, serverUrl, signUp } from './lib.mjs';

const COUNT = 20;
const DEADLINE_MS = 20_000;
const url = serverUrl();
const { accessToken: token } = await signUp(url, 'Webhooks');

// The receiver: verifies each request as it arrives, records the outcome.
let webhook; // set once the endpoint (and its secret) exists
const received = []; // { body, headers, ok, error, payload }
const receiver = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const entry = { method: req.method, body, headers: { ...req.headers } };
    try {
      entry.payload = webhook.verify(body, req.headers);
      entry.ok = true;
    } catch (error) {
      entry.ok = false;
      entry.error = String(error?.message ?? error);
    }
    received.push(entry);
    res.writeHead(entry.ok ? 204 : 400).end();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hooks`;

const until = async (what, done) => {
  const started = Date.now();
  for (;;) {
    const result = await done();
    if (result) return result;
    assert.ok(Date.now() - started < DEADLINE_MS, `timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const { createWebhookEndpoint: created } = await post(url,
  `mutation($i: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $i) { endpoint { id url enabled } secret }
  }`,
  { i: { url: receiverUrl, description: 'client suite receiver', eventKinds: ['OPPORTUNITY_CREATED'] } }, token);
assert.equal(created.endpoint.url, receiverUrl);
assert.equal(created.endpoint.enabled, true);
assert.match(created.secret, /^whsec_/);
webhook = new Webhook(created.secret);
check('an endpoint on a local http receiver is registered (whsec_ secret)');

const { pipelines } = await post(url, '{ pipelines { stages { id } } }', {}, token);
const stageId = pipelines[0].stages[0].id;
const ids = [];
for (let n = 1; n <= COUNT; n += 1) {
  const { createOpportunity } = await post(url,
    'mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }',
    { i: { title: `Webhook deal ${n}`, stageId, potential: '100' } }, token);
  ids.push(createOpportunity.id);
}
check(`${COUNT} opportunities created`);

await until(`${COUNT} deliveries (got ${received.length})`, () => received.length >= COUNT);
assert.equal(received.length, COUNT, 'exactly one delivery per created opportunity');
const failures = received.filter((r) => !r.ok).map((r) => `${r.headers['webhook-id']}: ${r.error}`);
assert.deepEqual(failures, [], 'every delivery verifies with standardwebhooks');
assert.ok(received.every((r) => r.method === 'POST' && /^application\/json/.test(r.headers['content-type'])));
check(`all ${COUNT} deliveries verified by standardwebhooks Webhook.verify`);

const sequences = received.map((r) => r.payload.data.sequence);
for (let i = 1; i < sequences.length; i += 1) {
  assert.ok(sequences[i] > sequences[i - 1], `data.sequence increases in arrival order: ${sequences.join(', ')}`);
}
assert.ok(received.every((r) => r.payload.type === 'opportunity.created'),
  `types: ${[...new Set(received.map((r) => r.payload.type))].join(', ')}`);
assert.equal(new Set(received.map((r) => r.headers['webhook-id'])).size, COUNT, 'distinct webhook-ids');
check('deliveries arrived in increasing data.sequence order, distinct webhook-ids');

assert.deepEqual(received.map((r) => r.payload.data.opportunity?.id), ids, 'data.opportunity.id, in creation order');
assert.deepEqual(received.map((r) => r.payload.data.subjectId), ids, 'data.subjectId, in creation order');
assert.deepEqual(received.map((r) => r.payload.data.opportunity.title), ids.map((_, i) => `Webhook deal ${i + 1}`));
check('data.opportunity.id (and subjectId) equal the created ids, in order');

const sample = received[0];
const tampered = sample.body.replace('Webhook deal 1', 'Webhook deal X');
assert.notEqual(tampered, sample.body);
assert.throws(() => webhook.verify(tampered, sample.headers), WebhookVerificationError);
assert.throws(() => new Webhook(`whsec_${Buffer.from('not the secret').toString('base64')}`).verify(sample.body, sample.headers),
  WebhookVerificationError);
assert.doesNotThrow(() => webhook.verify(sample.body, sample.headers));
check('a tampered body (or a wrong secret) fails verification');

const deliveries = await until('the delivery log to record every delivery', async () => {
  const { webhookEndpoint } = await post(url,
    'query($id: ID!) { webhookEndpoint(id: $id) { deliveries(first: 100) { attempt succeeded responseCode } } }',
    { id: created.endpoint.id }, token);
  const log = webhookEndpoint.deliveries;
  return log.length >= COUNT ? log : null;
});
assert.equal(deliveries.length, COUNT, JSON.stringify(deliveries));
assert.ok(deliveries.every((d) => d.succeeded && d.attempt === 1 && d.responseCode === 204), JSON.stringify(deliveries));
check(`the delivery log shows ${COUNT} succeeded first attempts (204)`);

receiver.close();
receiver.closeAllConnections?.();
