// GraphiQL as a developer meets it: Debian's Chromium, driven by
// playwright-core, opens the page the server embeds, with every host but
// 127.0.0.1 unreachable. The Docs pane must list Opportunity, a query with
// a Bearer header must answer, and a subscription must receive the event
// of a mutation made meanwhile. Prints `ok N - ...` lines; exits non-zero
// on the first failure.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { check, post, serverUrl, signUp } from './lib.mjs';

const http = serverUrl();
const gql = (query, variables, token) => post(http, query, variables, token);
const stamp = Date.now();
const { accessToken: token } = await signUp(http, 'GraphiQL');
const { pipelines } = await gql('{ pipelines { id stages { id } } }', {}, token);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // nothing but this machine resolves: a CDN reference would fail to load
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ],
});
const failures = [];
try {
  const context = await browser.newContext();
  const offsite = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1') return route.continue();
    offsite.push(u.href);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') failures.push(`console error: ${m.text()}`); });
  page.on('requestfailed', (r) => failures.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));

  const res = await page.goto(http, { waitUntil: 'load' });
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-security-policy'] ?? '', /script-src 'self';/);
  await page.waitForSelector('.graphiql-container', { timeout: 15000 });
  check('the page renders from embedded assets, offline');

  // the Docs pane, fed by introspection
  await page.click('button[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector('.graphiql-doc-explorer', { timeout: 10000 });
  await page.getByText('Mutation', { exact: true }).first().waitFor({ timeout: 10000 });
  await page.fill('.graphiql-doc-explorer-search-input input', 'Opportunity');
  await page.locator('.graphiql-doc-explorer-search [role="option"]', { hasText: /^Opportunity$/ }).first()
    .waitFor({ timeout: 10000 });
  check('the Docs pane lists Opportunity');
  await page.keyboard.press('Escape');

  // editors are CodeMirror instances: set them as a user typing would
  const setEditor = (selector, text) => page.evaluate(([sel, t]) => {
    const cm = document.querySelector(`${sel} .CodeMirror`).CodeMirror;
    cm.setValue(t);
  }, [selector, text]);
  const response = () => page.evaluate(() =>
    document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue());
  await page.click('button[data-name="headers"]');
  await setEditor('.graphiql-editor-tool .graphiql-editor:not(.hidden)',
    JSON.stringify({ authorization: `Bearer ${token}` }));
  await setEditor('.graphiql-query-editor', 'query Me { me { email role } }');
  // GraphiQL reads the operation name from the editor as it changes
  await page.locator('.graphiql-tab-active', { hasText: 'Me' }).waitFor({ timeout: 5000 });
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(() =>
    document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('"role"'),
  null, { timeout: 10000 }).catch(async (e) => {
    await page.screenshot({ path: '/tmp/gq-fail.png' });
    throw new Error(`no answer to { me }: ${await response()} ${failures.join('; ')}`);
  });
  const me = JSON.parse(await response());
  assert.equal(me.data.me.role, 'ADMIN', JSON.stringify(me));
  check('a query with a Bearer header from the Headers tab answers');

  // a subscription over the WebSocket, authenticated by the same header
  await setEditor('.graphiql-query-editor',
    'subscription Live { opportunityEvents { kind opportunity { title } } }');
  await page.locator('.graphiql-tab-active', { hasText: 'Live' }).waitFor({ timeout: 5000 });
  await page.click('.graphiql-execute-button');
  const title = `Seen in GraphiQL ${stamp}`;
  // the subscription is live once the server acknowledged it; make the
  // change until the event shows (each try is a new opportunity)
  let seen = false;
  for (let i = 0; i < 50 && !seen; i += 1) {
    await gql('mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }',
      { i: { title: `${title} #${i}`, stageId: pipelines[0].stages[0].id, potential: '100' } }, token);
    seen = await page.waitForFunction((t) =>
      document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes(t),
    title, { timeout: 200 }).then(() => true, () => false);
  }
  assert.ok(seen, `no event in GraphiQL; response pane: ${await response()}`);
  const event = JSON.parse(await response());
  assert.equal(event.data.opportunityEvents.kind, 'CREATED', JSON.stringify(event));
  check('a subscription receives the event of a mutation made meanwhile');

  assert.deepEqual(offsite, [], `the page reached for other hosts: ${offsite.join(', ')}`);
  assert.deepEqual(failures, [], failures.join('\n'));
  check('no request left 127.0.0.1, no script or console error');
} finally {
  await browser.close();
}
