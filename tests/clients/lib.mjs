// Shared by the *.check.mjs scripts: where the server is, a plain-fetch
// GraphQL client (the "second, independent client"), sign-up, the SPA's
// operations from tests/api/screens.graphql, and `ok N - name` reporting.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, visit } from 'graphql';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
export const SCHEMA_FILE = process.env.SCHEMA_FILE ?? resolve(repo, 'schema.graphql');
export const SCREENS_FILE = process.env.SCREENS_FILE ?? resolve(repo, 'tests/api/screens.graphql');

export function serverUrl(variable = 'GRAPHQL_URL') {
  const url = process.env[variable];
  if (!url) throw new Error(`${variable} is not set (run through tests/clients/run.sh)`);
  return url;
}

let checks = 0;
export const check = (name) => { checks += 1; console.log(`ok ${checks} - ${name}`); };

// A failure ends the script as a `not ok` line with its message (and the
// stack, indented), exit status 1.
process.on('uncaughtException', (error) => {
  console.log(`not ok ${checks + 1} - ${String(error?.message ?? error).split('\n')[0]}`);
  console.log(String(error?.stack ?? error).replace(/^/gm, '#   '));
  process.exit(1);
});

export const withTimeout = (p, ms, what) => {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
};

/** One POST with plain fetch; throws on any GraphQL error. */
export async function post(url, query, variables, token) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { throw new Error(`HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`); }
  assert.equal(body.errors, undefined, `${query}\n→ ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A fresh tenant and its ADMIN: { accessToken, refreshToken, email }. */
export async function signUp(url, label) {
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const email = `${label.toLowerCase()}${stamp}@example.com`;
  const data = await post(
    url,
    'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken } }',
    { i: { tenantName: `${label} ${stamp}`, name: `${label} admin`, email, password: 'correct horse battery' } },
  );
  return { ...data.signUp, email };
}

/**
 * A tenant with a few realistic cards on its default pipeline's first
 * stage: a primary contact at a company, an open task, a due date.
 */
export async function seedBoard(url, token, label = 'Seed', count = 2) {
  const { pipelines } = await post(url, '{ pipelines { id name stages { id name probability } } }', {}, token);
  const pipeline = pipelines[0];
  assert.ok(pipeline.stages.length >= 2, 'the default pipeline has at least two stages');
  const { createContact: company } = await post(url,
    'mutation($i: ContactInput!) { createContact(input: $i) { id } }',
    { i: { kind: 'COMPANY', name: `${label} GmbH` } }, token);
  const { createContact: person } = await post(url,
    'mutation($i: ContactInput!) { createContact(input: $i) { id } }',
    { i: { kind: 'PERSON', name: `${label} Person`, email: 'person@example.com', companyId: company.id } }, token);
  const ids = [];
  for (let n = 1; n <= count; n += 1) {
    const { createOpportunity: o } = await post(url,
      'mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }',
      { i: { title: `${label} deal ${n}`, stageId: pipeline.stages[0].id, potential: `${n}000.50`, dueDate: '2026-12-20', contacts: [{ contactId: person.id, isPrimary: true }] } },
      token);
    await post(url,
      'mutation($i: CreateActivityInput!) { createActivity(input: $i) { id } }',
      { i: { kind: 'TASK', subject: `Call back about deal ${n}`, opportunityId: o.id, dueAt: '2026-12-24T10:00:00Z' } }, token);
    ids.push(o.id);
  }
  return { pipeline, opportunityIds: ids };
}

export const screensSource = () => readFileSync(SCREENS_FILE, 'utf8');

/**
 * The named operation of screens.graphql with exactly the fragments it
 * uses (clients such as Apollo refuse a document with several operations).
 */
export function screenOperation(name, source = screensSource()) {
  const doc = parse(source);
  const fragments = new Map(doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const op = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION && d.name?.value === name);
  if (!op) throw new Error(`no operation ${name} in ${SCREENS_FILE}`);
  const used = new Set();
  const collect = (node) => visit(node, {
    FragmentSpread(spread) {
      const f = spread.name.value;
      if (!used.has(f)) { used.add(f); collect(fragments.get(f)); }
    },
  });
  collect(op);
  return { kind: Kind.DOCUMENT, definitions: [op, ...[...used].map((f) => fragments.get(f))] };
}

/** A fragment of screens.graphql with the fragments it spreads. */
export function screenFragment(name, source = screensSource()) {
  const doc = parse(source);
  const fragments = new Map(doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const used = [name];
  const collect = (node) => visit(node, {
    FragmentSpread(spread) {
      if (!used.includes(spread.name.value)) { used.push(spread.name.value); collect(fragments.get(spread.name.value)); }
    },
  });
  collect(fragments.get(name));
  return { kind: Kind.DOCUMENT, definitions: used.map((f) => fragments.get(f)) };
}

/** Collects console.warn / console.error so a script can fail on any of them. */
export function captureConsole() {
  const seen = [];
  for (const level of ['warn', 'error']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      seen.push(`console.${level}: ${args.map((a) => (a instanceof Error ? a.stack : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
      original(...args);
    };
  }
  return seen;
}
