// Apollo Client 4 as the SPA uses it: the Board from screens.graphql in a
// normalized cache, live updates from opportunityEvents over graphql-ws,
// and a second, independent client moving a card. The cache must show the
// move from the event alone (no refetch), and Apollo must not warn.
import assert from 'node:assert/strict';
import { parse, print } from 'graphql';
import {
  captureConsole, check, post, screenFragment, screenOperation, seedBoard, serverUrl, signUp, withTimeout,
} from './lib.mjs';

const warnings = captureConsole();
const { createSpaClient } = await import('./apollo-client.mjs');
const url = serverUrl();

const session = await signUp(url, 'Apollo');
const { pipeline, opportunityIds: [moved, other] } = await seedBoard(url, session.accessToken, 'Apollo');
const [from, to] = pipeline.stages;
assert.notEqual(from.probability, to.probability, 'the first two stages have different probabilities');

const { client, wsClient, stats } = createSpaClient(url, session);
const Board = screenOperation('Board');
const variables = { pipelineId: pipeline.id };

// The board, watched as a screen watches it.
const boardResults = [];
const boardWaiters = [];
const board = client.watchQuery({ query: Board, variables }).subscribe({
  next: (result) => {
    boardResults.push(result);
    boardWaiters.splice(0).forEach((w) => w());
  },
  error: (error) => { boardResults.push({ error }); boardWaiters.splice(0).forEach((w) => w()); },
});
async function boardWhere(predicate, what) {
  return withTimeout((async () => {
    for (;;) {
      const hit = boardResults.find(predicate);
      if (hit) return hit;
      await new Promise((r) => boardWaiters.push(r));
    }
  })(), 5000, what);
}
const column = (data, stageId) => data.pipeline.stages.find((s) => s.id === stageId);
const loaded = await boardWhere((r) => r.error || (r.dataState === 'complete' && !r.loading), 'the Board query');
assert.equal(loaded.error, undefined, String(loaded.error));
assert.deepEqual(column(loaded.data, from.id).opportunities.nodes.map((n) => n.id).sort(), [moved, other].sort());
assert.equal(column(loaded.data, to.id).opportunities.nodes.length, 0);
check('the Board query from screens.graphql loads into the normalized cache');

const CardDoc = screenFragment('Card');
const opportunityRef = (id) => client.cache.identify({ __typename: 'Opportunity', id });
const cardBefore = client.cache.readFragment({ id: opportunityRef(moved), fragment: CardDoc, fragmentName: 'Card' });
assert.ok(cardBefore, 'the card is normalized as Opportunity:<id>');
assert.equal(cardBefore.title, 'Apollo deal 1');
assert.equal(cardBefore.probability, from.probability);
check('cache.readFragment(Card) reads a board card by its id');

// The subscription: the Card's fields and the stage on `opportunity`.
const BoardEvents = parse(`
  subscription BoardEvents($pipelineId: ID) {
    opportunityEvents(pipelineId: $pipelineId) {
      kind
      opportunityId
      at
      opportunity { ...Card stage { id name } }
    }
  }`);
BoardEvents.definitions.push(...CardDoc.definitions);
const events = [];
const eventWaiters = [];
const subscription = client.subscribe({ query: BoardEvents, variables }).subscribe({
  next: (result) => {
    events.push(result);
    const event = result.data?.opportunityEvents;
    // What the SPA does on a stage change: move the (already updated,
    // normalized) card to its new column of the cached Board.
    if (event?.kind === 'STAGE_CHANGED' && event.opportunity) {
      client.cache.updateQuery({ query: Board, variables }, (data) => data && ({
        ...data,
        pipeline: {
          ...data.pipeline,
          stages: data.pipeline.stages.map((stage) => {
            const rest = stage.opportunities.nodes.filter((n) => n.id !== event.opportunityId);
            const card = data.pipeline.stages.flatMap((s) => s.opportunities.nodes).find((n) => n.id === event.opportunityId);
            const nodes = stage.id === event.opportunity.stage.id && card ? [card, ...rest] : rest;
            return { ...stage, opportunities: { ...stage.opportunities, totalCount: stage.opportunities.totalCount + nodes.length - stage.opportunities.nodes.length, nodes } };
          }),
        },
      }));
    }
    eventWaiters.splice(0).forEach((w) => w());
  },
  error: (error) => { events.push({ error }); eventWaiters.splice(0).forEach((w) => w()); },
});
async function eventWhere(predicate, what, ms = 5000) {
  return withTimeout((async () => {
    for (;;) {
      const failed = events.find((e) => e.error || e.errors?.length);
      if (failed) throw new Error(`subscription error: ${JSON.stringify(failed.error?.message ?? failed.errors)}`);
      const hit = events.find((e) => predicate(e.data?.opportunityEvents));
      if (hit) return hit.data.opportunityEvents;
      await new Promise((r) => eventWaiters.push(r));
    }
  })(), ms, what);
}

// The server does not acknowledge a `subscribe`: edit the other card until
// its UPDATED event shows the subscription is live.
const live = (async () => {
  for (let n = 1; ; n += 1) {
    await post(url, 'mutation($id: ID!, $t: String!) { updateOpportunity(id: $id, input: { title: $t }) { id } }',
      { id: other, t: `Apollo deal 2 (edit ${n})` }, session.accessToken);
    try {
      return await eventWhere((e) => e?.kind === 'UPDATED' && e.opportunityId === other, 'UPDATED', 300);
    } catch (e) { if (n >= 20 || !/timed out/.test(e.message)) throw e; }
  }
})();
const updated = await withTimeout(live, 10000, 'the subscription to go live');
assert.match(updated.opportunity.title, /^Apollo deal 2 \(edit \d+\)$/);
assert.equal(
  client.cache.readFragment({ id: opportunityRef(other), fragment: CardDoc, fragmentName: 'Card' }).title,
  updated.opportunity.title,
);
check('an UPDATED event over graphql-ws updates the normalized card');

// The second client moves the card.
const httpBefore = stats.http.length;
await post(url, 'mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }', { id: moved, s: to.id }, session.accessToken);
const event = await eventWhere((e) => e?.kind === 'STAGE_CHANGED' && e.opportunityId === moved, 'STAGE_CHANGED');
assert.equal(event.opportunity.stage.id, to.id);
check('the STAGE_CHANGED event of a move by another client arrives');

const CardWithStage = parse('fragment CardWithStage on Opportunity { ...Card stage { id name } }');
CardWithStage.definitions.push(...CardDoc.definitions);
const cached = client.cache.readFragment({ id: opportunityRef(moved), fragment: CardWithStage, fragmentName: 'CardWithStage' });
assert.ok(cached, 'the cache has every Card field and the stage of the moved opportunity');
const { opportunity: truth } = await post(url,
  `query($id: ID!) { opportunity(id: $id) { ...CardWithStage } } ${print(CardWithStage)}`,
  { id: moved }, session.accessToken);
const withoutTypename = (value) => JSON.parse(JSON.stringify(value, (k, v) => (k === '__typename' ? undefined : v)));
assert.deepEqual(withoutTypename(cached), truth);
assert.equal(cached.stage.id, to.id);
assert.equal(cached.probability, to.probability);
check('cache.readFragment shows the new stage and stage-derived fields, equal to what the server now answers');

const after = await boardWhere((r) => r.data && column(r.data, to.id).opportunities.nodes.some((n) => n.id === moved), 'the watched Board to show the move');
assert.deepEqual(column(after.data, from.id).opportunities.nodes.map((n) => n.id), [other]);
assert.equal(column(after.data, to.id).opportunities.nodes[0].probability, to.probability);
assert.deepEqual(stats.http.slice(httpBefore), [], 'no HTTP request after the move: nothing was refetched');
assert.deepEqual(stats.http, ['Board']);
check('the watched Board query shows the card in its new column without refetching');

// The card's page, over HTTP, into the same normalized cache.
const page = await client.query({ query: screenOperation('OpportunityPage'), variables: { id: moved } });
assert.equal(page.error, undefined, String(page.error));
assert.equal(page.data.opportunity.stage.id, to.id);
assert.ok(page.data.opportunity.stageHistory.some((h) => h.fromStage?.id === from.id && h.toStage?.id === to.id),
  `the move is in stageHistory: ${JSON.stringify(page.data.opportunity.stageHistory)}`);
assert.equal(page.data.opportunity.activities.totalCount, 1);
check('the OpportunityPage query of the moved card loads into the same cache');

subscription.unsubscribe();
board.unsubscribe();
await wsClient.dispose();
client.stop();

assert.deepEqual(warnings, [], `Apollo or the script wrote to console.warn/console.error:\n${warnings.join('\n')}`);
check('Apollo logged no warning or error (no missing field, no cache data loss)');
