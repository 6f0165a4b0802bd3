#!/usr/bin/env node
// Helpers of tools/bench/events.sh (Node 20; `ws` from tests/clients/node_modules):
//
//   receive PORT                          webhook receiver: answers 204 to every POST;
//                                         GET /stats (count, duplicates, first..last, lag), GET /reset
//   create URL TOKEN STAGE N CONC PREFIX  N createOpportunity, CONC at a time; prints JSON
//   fanout URL TOKEN STAGE SUBS EVENTS SPACING_MS
//                                         SUBS sockets, one opportunityEvents subscription
//                                         each; EVENTS createOpportunity SPACING_MS apart;
//                                         latency from each mutation's HTTP response to
//                                         each subscriber's receipt; prints JSON
'use strict';
const http = require('http');
const path = require('path');

const [cmd, ...args] = process.argv.slice(2);
const CREATE =
  'mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }';

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function createOne(url, token, stage, title) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: CREATE, variables: { i: { title, stageId: stage, potential: '100' } } }),
  });
  const body = await res.json();
  const id = body?.data?.createOpportunity?.id;
  if (!id) throw new Error(`createOpportunity failed: ${JSON.stringify(body)}`);
  return id;
}

function receive(port) {
  let count, first, last, lags, paths, ids, duplicates;
  const reset = () => { count = 0; first = null; last = null; lags = []; paths = {}; ids = new Set(); duplicates = 0; };
  reset();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      if (req.url === '/reset') reset();
      const sorted = [...lags].sort((a, b) => a - b);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        count, duplicates, first, last, seconds: first === null ? 0 : (last - first) / 1000,
        lagP50: pct(sorted, 50), lagP99: pct(sorted, 99), paths,
      }));
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      res.writeHead(204);
      res.end();
      count++;
      if (first === null) first = now;
      last = now;
      paths[req.url] = (paths[req.url] || 0) + 1;
      // at least once: the same message again at the same endpoint
      const key = `${req.url} ${req.headers['webhook-id']}`;
      if (ids.has(key)) duplicates++; else ids.add(key);
      try {
        // event time -> receipt (the event's timestamp has ms precision)
        lags.push(now - Date.parse(JSON.parse(Buffer.concat(chunks)).timestamp));
      } catch { /* not an event: counted, no lag */ }
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(Number(port), '127.0.0.1');
}

async function create(url, token, stage, n, conc, prefix) {
  n = Number(n); conc = Number(conc);
  let next = 0, errors = 0;
  const started = performance.now();
  async function worker() {
    while (next < n) {
      const k = next++;
      try { await createOne(url, token, stage, `${prefix} ${k}`); } catch (e) {
        if (errors++ === 0) console.error(String(e));
      }
    }
  }
  await Promise.all(Array.from({ length: conc }, worker));
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ n, errors, seconds, rate: n / seconds }));
  if (errors) process.exitCode = 1;
}

async function fanout(url, token, stage, subs, events, spacing) {
  const root = path.resolve(__dirname, '../..');
  const WebSocket = require(path.join(root, 'tests/clients/node_modules/ws'));
  subs = Number(subs); events = Number(events); spacing = Number(spacing);
  const wsUrl = url.replace(/^http/, 'ws');
  const query = 'subscription { opportunityEvents { kind opportunityId } }';
  const receipts = []; // [subscriber, opportunityId, time]
  let errors = 0, closed = 0;
  const seen = new Map(); // opportunityId -> subscribers that got it
  function open(k) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
      const timer = setTimeout(() => reject(new Error(`socket ${k}: no ack`)), 30000);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      ws.on('message', (data) => {
        const t = performance.now();
        const m = JSON.parse(data);
        if (m.type === 'connection_ack') {
          clearTimeout(timer);
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
          resolve(ws);
        } else if (m.type === 'next') {
          const id = m.payload?.data?.opportunityEvents?.opportunityId;
          if (!id) { if (errors++ === 0) console.error(JSON.stringify(m)); return; }
          receipts.push([k, id, t]);
          seen.set(id, (seen.get(id) || 0) + 1);
        } else if (m.type === 'error') {
          if (errors++ === 0) console.error(JSON.stringify(m));
        } else if (m.type === 'ping') {
          ws.send(JSON.stringify({ type: 'pong' }));
        }
      });
      ws.on('close', () => closed++);
      ws.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }
  const sockets = [];
  const t0 = performance.now();
  for (let k = 0; k < subs; k += 50) {
    const batch = [];
    for (let j = k; j < Math.min(subs, k + 50); j++) batch.push(open(j));
    sockets.push(...(await Promise.all(batch)));
  }
  const connectSeconds = (performance.now() - t0) / 1000;
  const waitAll = async (id, ms) => {
    const until = performance.now() + ms;
    while ((seen.get(id) || 0) < subs && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
    return seen.get(id) || 0;
  };
  // probes until every subscription is live (subscribe has no ack)
  let ready = 0;
  for (let tries = 0; tries < 20 && ready < subs; tries++) {
    ready = await waitAll(await createOne(url, token, stage, `fanout probe ${tries}`), 2000);
  }
  if (ready < subs) throw new Error(`only ${ready} of ${subs} subscriptions got the probe`);
  receipts.length = 0;
  const answered = new Map(); // opportunityId -> time of the HTTP response
  const rtt = [];
  for (let e = 0; e < events; e++) {
    const sent = performance.now();
    const id = await createOne(url, token, stage, `fanout ${e}`);
    const at = performance.now();
    answered.set(id, at);
    rtt.push(at - sent);
    const wait = sent + spacing - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  for (const id of answered.keys()) await waitAll(id, 10000);
  const lat = [];
  let early = 0;
  for (const [, id, t] of receipts) {
    if (!answered.has(id)) continue;
    const d = t - answered.get(id);
    if (d < 0) early++;
    lat.push(d);
  }
  lat.sort((a, b) => a - b);
  rtt.sort((a, b) => a - b);
  const expected = subs * events;
  console.log(JSON.stringify({
    subscribers: subs, events, receipts: lat.length, missing: expected - lat.length, early,
    connectSeconds, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1],
    mutationP50: pct(rtt, 50), errors, closed,
  }));
  for (const ws of sockets) ws.terminate();
  if (lat.length < expected || errors) process.exitCode = 1;
}

const run = { receive, create, fanout }[cmd];
if (!run) {
  console.error('usage: events-helper.cjs receive|create|fanout ...');
  process.exit(2);
}
Promise.resolve(run(...args)).catch((e) => { console.error(String(e)); process.exit(1); });
