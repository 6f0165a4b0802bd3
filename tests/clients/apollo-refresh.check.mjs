// The SPA's silent session renewal with Apollo Client 4: once the access
// token has expired, a query answered UNAUTHENTICATED makes the error link
// call refreshSession with the stored refresh token, store the new pair and
// retry the operation once; the screen never sees the error.
// Needs a server started with a short ACCESS_TOKEN_TTL_SECS
// (GRAPHQL_URL_SHORT_TTL; run.sh starts one with 2 seconds).
import assert from 'node:assert/strict';
import { gql } from '@apollo/client';
import { captureConsole, check, seedBoard, serverUrl, signUp, screenOperation } from './lib.mjs';

const warnings = captureConsole();
const { createSpaClient } = await import('./apollo-client.mjs');
const url = serverUrl('GRAPHQL_URL_SHORT_TTL');

const session = await signUp(url, 'Refresh');
const { pipeline } = await seedBoard(url, session.accessToken, 'Refresh', 1);
const { client, wsClient, stats } = createSpaClient(url, session);
const Me = gql`query Me { me { id email } }`;

const first = await client.query({ query: Me, fetchPolicy: 'network-only' });
assert.equal(first.data.me.email, session.email);
assert.equal(stats.refreshes, 0);
check('a query with a fresh access token needs no renewal');

// Wait, on time only, until the server refuses the first access token
// (its TTL plus whatever leeway the server allows on `exp`).
const expired = session.accessToken;
const started = Date.now();
for (;;) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${expired}` },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  const body = await res.json();
  if (body.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) break;
  assert.ok(body.data?.me?.id, JSON.stringify(body));
  assert.ok(Date.now() - started < 90_000, 'the access token is still accepted after 90 s');
  await new Promise((r) => setTimeout(r, 500));
}
check(`the access token is refused once expired (after ${((Date.now() - started) / 1000).toFixed(1)} s of waiting)`);

// Two screens failing at once (the board and the header) share one renewal.
const [board, renewed] = await Promise.all([
  client.query({ query: screenOperation('Board'), variables: { pipelineId: pipeline.id }, fetchPolicy: 'network-only' }),
  client.query({ query: Me, fetchPolicy: 'network-only' }),
]);
assert.equal(renewed.error, undefined);
assert.equal(renewed.data.me.email, session.email);
assert.equal(board.error, undefined);
assert.equal(board.data.pipeline.id, pipeline.id);
assert.notEqual(session.accessToken, expired);
assert.equal(stats.refreshes, 1, 'one refreshSession for both');
assert.deepEqual(stats.http.slice(1).sort(), ['Board', 'Board', 'Me', 'Me'], 'each failed request, then its retry');
check('expired token: both queries renewed transparently (one refreshSession, new pair stored, each retried once)');

const after = await client.query({ query: Me, fetchPolicy: 'network-only' });
assert.equal(after.data.me.email, session.email);
assert.equal(stats.refreshes, 1);
check('the renewed access token is used for the next request');

await wsClient.dispose();
client.stop();
assert.deepEqual(warnings, [], `console.warn/console.error during the run:\n${warnings.join('\n')}`);
check('Apollo logged no warning or error');
