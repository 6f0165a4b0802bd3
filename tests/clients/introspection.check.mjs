// The schema the server introspects (unauthenticated, every introspection
// option on) must be the published schema.graphql: both are built and
// printed by graphql-js (printSchema normalizes formatting only, and
// lexicographicSortSchema the order of definitions), then compared. Any
// difference fails with a unified diff.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  specifiedDirectives, buildClientSchema, buildSchema, getIntrospectionQuery, isScalarType, Kind, lexicographicSortSchema, parse, printSchema,
} from 'graphql';
import { check, SCHEMA_FILE, serverUrl } from './lib.mjs';

const url = serverUrl();
const res = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
  body: JSON.stringify({
    query: getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    }),
  }),
});
const body = await res.json();
assert.equal(res.status, 200, JSON.stringify(body));
assert.equal(body.errors, undefined, JSON.stringify(body.errors));
check('the full introspection query is answered without authentication');

const servedSchema = lexicographicSortSchema(buildClientSchema(body.data));
const fileSchema = lexicographicSortSchema(buildSchema(readFileSync(SCHEMA_FILE, 'utf8')));
const served = printSchema(servedSchema);
const published = printSchema(fileSchema);

/** What differs, in words: one line per schema element. */
function differences(a, b) {
  const out = [];
  const show = (v) => (v == null ? 'none' : JSON.stringify(v));
  const same = (x, y) => (x ?? null) === (y ?? null);
  if (!same(a.description, b.description)) out.push(`schema description: introspection ${show(a.description)}, schema.graphql ${show(b.description)}`);
  // A type's shape without descriptions, and its descriptions apart.
  const argShape = (arg) => ({ name: arg.name, type: String(arg.type), default: arg.defaultValue, deprecated: arg.deprecationReason ?? null });
  const shape = (t) => ({
    kind: t.constructor.name,
    interfaces: t.getInterfaces?.().map(String),
    members: t.getTypes?.().map(String),
    values: t.getValues?.().map((v) => ({ name: v.name, deprecated: v.deprecationReason ?? null })),
    fields: t.getFields && Object.values(t.getFields()).map((f) => ({
      name: f.name, type: String(f.type), deprecated: f.deprecationReason ?? null, default: f.defaultValue, args: f.args?.map(argShape),
    })),
    oneOf: t.isOneOf ?? false,
  });
  const descriptions = (t) => {
    const d = new Map();
    for (const v of t.getValues?.() ?? []) d.set(`value ${v.name}`, v.description ?? null);
    for (const f of Object.values(t.getFields?.() ?? {})) {
      d.set(`field ${f.name}`, f.description ?? null);
      for (const arg of f.args ?? []) d.set(`argument ${f.name}(${arg.name})`, arg.description ?? null);
    }
    return d;
  };
  const aTypes = a.getTypeMap();
  const bTypes = b.getTypeMap();
  for (const name of [...new Set([...Object.keys(aTypes), ...Object.keys(bTypes)])].sort()) {
    if (name.startsWith('__')) continue;
    const [x, y] = [aTypes[name], bTypes[name]];
    if (!y) { out.push(`type ${name}: only in the introspection`); continue; }
    if (!x) { out.push(`type ${name}: only in schema.graphql`); continue; }
    if (!same(x.description, y.description)) out.push(`type ${name}: description: introspection ${show(x.description)}, schema.graphql ${show(y.description)}`);
    if (isScalarType(x) && !same(x.specifiedByURL, y.specifiedByURL)) {
      out.push(`scalar ${name}: @specifiedBy(url:) introspection ${show(x.specifiedByURL)}, schema.graphql ${show(y.specifiedByURL)}`);
    }
    if (JSON.stringify(shape(x)) !== JSON.stringify(shape(y))) out.push(`type ${name}: fields, arguments, values, defaults or deprecations differ`);
    const [dx, dy] = [descriptions(x), descriptions(y)];
    for (const key of new Set([...dx.keys(), ...dy.keys()])) {
      if (dx.has(key) && dy.has(key) && !same(dx.get(key), dy.get(key))) {
        out.push(`${name} ${key}: description: introspection ${show(dx.get(key))}, schema.graphql ${show(dy.get(key))}`);
      }
    }
  }
  return out;
}

/**
 * Directive definitions, property by property. printSchema leaves out the
 * specified directives (@include, @skip, @deprecated, @specifiedBy,
 * @oneOf), so they are compared here. A directive schema.graphql does not
 * declare is compared with graphql-js's built-in definition, which
 * buildSchema adds.
 */
function directiveDifferences(a, b, declared) {
  const out = [];
  const props = (d) => {
    const p = new Map([['description', d.description ?? null], ['locations', [...d.locations].sort().join(' | ')], ['repeatable', d.isRepeatable]]);
    for (const arg of d.args) {
      p.set(`argument ${arg.name} type`, String(arg.type));
      p.set(`argument ${arg.name} default`, arg.defaultValue ?? null);
      p.set(`argument ${arg.name} description`, arg.description ?? null);
    }
    return p;
  };
  const aDirs = new Map(a.getDirectives().map((d) => [d.name, d]));
  const bDirs = new Map(b.getDirectives().map((d) => [d.name, d]));
  for (const name of [...new Set([...aDirs.keys(), ...bDirs.keys()])].sort()) {
    const where = declared.has(name) ? 'schema.graphql' : 'graphql-js built-in (not declared in schema.graphql)';
    if (!bDirs.has(name)) { out.push({ declared: true, text: `directive @${name}: only in the introspection` }); continue; }
    if (!aDirs.has(name)) { out.push({ declared: declared.has(name), text: `directive @${name}: not in the introspection (${where})` }); continue; }
    const [x, y] = [props(aDirs.get(name)), props(bDirs.get(name))];
    for (const key of new Set([...x.keys(), ...y.keys()])) {
      if (JSON.stringify(x.get(key)) !== JSON.stringify(y.get(key))) {
        out.push({ declared: declared.has(name), text: `directive @${name} ${key}: introspection ${JSON.stringify(x.get(key) ?? null)}, ${where} ${JSON.stringify(y.get(key) ?? null)}` });
      }
    }
  }
  return out;
}


let failed = false;
if (served !== published) {
  const dir = mkdtempSync(join(tmpdir(), 'schema-diff-'));
  writeFileSync(join(dir, 'schema.graphql'), published);
  writeFileSync(join(dir, 'introspection.graphql'), served);
  const diff = spawnSync('diff', ['-u', '--label', 'schema.graphql (printed by graphql-js)', '--label', 'introspection (printed by graphql-js)',
    join(dir, 'schema.graphql'), join(dir, 'introspection.graphql')], { encoding: 'utf8' });
  rmSync(dir, { recursive: true });
  console.log('not ok 2 - the introspected schema equals schema.graphql (graphql-js printSchema of both)');
  console.log(`# differences:\n${differences(servedSchema, fileSchema).map((d) => `#   ${d}`).join('\n')}`);
  console.log(diff.stdout.replace(/^/gm, '# '));
  failed = true;
} else {
  check('the introspected schema equals schema.graphql (graphql-js printSchema of both)');
}

const declared = new Set(parse(readFileSync(SCHEMA_FILE, 'utf8')).definitions
  .filter((d) => d.kind === Kind.DIRECTIVE_DEFINITION).map((d) => d.name.value));
const directives = directiveDifferences(servedSchema, fileSchema, declared);
// graphql's own directives (@include, @skip, @deprecated, @specifiedBy,
// @oneOf) are defined by the spec: printSchema leaves them out and every
// client uses its library's definitions, so a wording difference in their
// argument descriptions (async-graphql's SDL printer drops them) is a note
const specified = new Set(specifiedDirectives.map((d) => d.name));
const isOurs = (d) => d.declared && !specified.has(d.text.match(/^directive @(\w+)/)?.[1]);
const notes = directives.filter((d) => !isOurs(d));
const wrong = directives.filter(isOurs);
if (wrong.length) {
  console.log(`not ok ${failed ? 3 : 2} - the directive definitions in schema.graphql equal the introspected ones`);
  console.log(wrong.map((d) => `#   ${d.text}`).join('\n'));
  failed = true;
} else if (!failed) {
  check('the directive definitions in schema.graphql equal the introspected ones');
}
if (notes.length) {
  console.log('# note: directives schema.graphql does not declare differ from graphql-js\'s built-in definitions:');
  console.log(notes.map((d) => `#   ${d.text}`).join('\n'));
}
if (failed) process.exit(1);
