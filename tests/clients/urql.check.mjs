// urql (@urql/core) with its default GET-for-queries behaviour
// (preferGetMethod 'within-url-limit': GET unless the URL would pass 2047
// characters) and with preferGetMethod 'force'; the Bearer header through
// fetchOptions. A wrapped fetch records every request's method and URL.
import assert from 'node:assert/strict';
import { cacheExchange, Client, fetchExchange, gql } from '@urql/core';
import {
  captureConsole, check, screenOperation, seedBoard, serverUrl, signUp,
} from './lib.mjs';

const warnings = captureConsole();
const url = serverUrl();
const session = await signUp(url, 'Urql');
const { pipeline, opportunityIds: [first] } = await seedBoard(url, session.accessToken, 'Urql', 2);

function urqlClient(options = {}) {
  const requests = [];
  const client = new Client({
    url,
    exchanges: [cacheExchange, fetchExchange],
    requestPolicy: 'network-only',
    fetchOptions: () => ({ headers: { authorization: `Bearer ${session.accessToken}` } }),
    fetch: (input, init) => {
      requests.push({ method: (init?.method ?? 'GET').toUpperCase(), url: String(input), body: init?.body });
      return fetch(input, init);
    },
    ...options,
  });
  return { client, requests };
}

const Forecast = screenOperation('Forecast');
const Table = screenOperation('OpportunitiesTable');
const Me = gql`query Me { me { id email } }`;
const noError = (result, what) => assert.equal(result.error, undefined, `${what}: ${result.error?.message}`);

// The defaults.
{
  const { client, requests } = urqlClient();
  const me = await client.query(Me, {}).toPromise();
  noError(me, 'Me');
  assert.equal(me.data.me.email, session.email);
  const forecast = await client.query(Forecast, { pipelineId: pipeline.id }).toPromise();
  noError(forecast, 'Forecast');
  assert.ok(forecast.data.forecast.buckets.length > 0);
  assert.ok(forecast.data.pipelines.some((p) => p.id === pipeline.id));
  const table = await client.query(Table, { pipelineId: pipeline.id, after: null }).toPromise();
  noError(table, 'OpportunitiesTable');
  assert.equal(table.data.opportunities.totalCount, 2);
  assert.equal(table.data.opportunities.nodes[0].activities.totalCount, 1);

  assert.equal(requests.length, 3);
  for (const [i, name] of ['Me', 'Forecast', 'OpportunitiesTable'].entries()) {
    const { method, url: sent, body } = requests[i];
    // urql's rule: GET unless the GET URL would pass 2047 characters.
    if (method === 'POST') {
      const { query, operationName, variables } = JSON.parse(body);
      const get = new URL(url);
      for (const [k, v] of Object.entries({ query, operationName, variables: JSON.stringify(variables) })) get.searchParams.set(k, v);
      assert.ok(get.href.length > 2047, `${name} went as POST with a ${get.href.length}-character GET URL`);
    } else {
      assert.equal(method, 'GET');
      assert.ok(sent.length <= 2047);
      const params = new URL(sent).searchParams;
      assert.ok(params.get('query').includes(name === 'Me' ? 'me' : name), `${name}: the query is in the URL`);
      assert.equal(params.get('operationName'), name);
    }
    check(`${name} through urql's default preferGetMethod ('within-url-limit') goes as ${method}${method === 'POST' ? ` (its GET URL would pass 2047 characters)` : ` (${sent.length}-character URL)`}`);
  }
  assert.equal(requests[0].method, 'GET', 'a small query goes as GET by default');
  assert.equal(requests[1].method, 'GET', 'the Forecast goes as GET by default');

  const renamed = await client.mutation(
    gql`mutation Rename($id: ID!, $t: String!) { updateOpportunity(id: $id, input: { title: $t }) { id title version } }`,
    { id: first, t: 'Renamed by urql' },
  ).toPromise();
  noError(renamed, 'Rename');
  assert.equal(renamed.data.updateOpportunity.title, 'Renamed by urql');
  assert.equal(requests.at(-1).method, 'POST');
  assert.equal(requests.at(-1).url, url);
  assert.equal(JSON.parse(requests.at(-1).body).operationName, 'Rename');
  check('a mutation through urql goes as POST');
}

// preferGetMethod: 'force': every query as GET, however long its URL.
{
  const { client, requests } = urqlClient({ preferGetMethod: 'force' });
  const table = await client.query(Table, { pipelineId: pipeline.id, after: null }).toPromise();
  noError(table, 'OpportunitiesTable');
  assert.equal(table.data.opportunities.nodes.find((n) => n.id === first).title, 'Renamed by urql');
  const forecast = await client.query(Forecast, { pipelineId: pipeline.id }).toPromise();
  noError(forecast, 'Forecast');
  const me = await client.query(Me, {}).toPromise();
  noError(me, 'Me');
  assert.deepEqual(requests.map((r) => r.method), ['GET', 'GET', 'GET']);
  check(`with preferGetMethod 'force' every query goes as GET and is answered (longest URL ${Math.max(...requests.map((r) => r.url.length))} characters)`);
  const moved = await client.mutation(
    gql`mutation Move($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id stage { id } } }`,
    { id: first, s: pipeline.stages[1].id },
  ).toPromise();
  noError(moved, 'Move');
  assert.equal(moved.data.moveOpportunity.stage.id, pipeline.stages[1].id);
  assert.equal(requests.at(-1).method, 'POST');
  check("a mutation still goes as POST with preferGetMethod 'force'");
}

assert.deepEqual(warnings, [], `console.warn/console.error during the run:\n${warnings.join('\n')}`);
check('urql logged no warning or error');
