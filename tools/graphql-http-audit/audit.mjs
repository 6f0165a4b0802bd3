#!/usr/bin/env node
// Runs every graphql-http server audit (GraphQL-over-HTTP spec conformance)
// against a running server.
//
//   node audit.mjs http://127.0.0.1:PORT/graphql
//
// Prints one line per audit that is not ok, then a closing line
//   audit: N passed, N failed, N warnings
// "failed" = status 'error' (a MUST audit failed, or the audit could not run,
// e.g. connection refused / timeout); "warnings" = status 'warn' (a SHOULD
// audit failed). MAY audits that fail get status 'notice': they are listed
// but not counted as failures. Exit code 1 if anything failed or warned,
// 2 on bad usage, else 0.
import { serverAudits } from 'graphql-http';

const REQUEST_TIMEOUT_MS = 10_000;
const BODY_PREVIEW_CHARS = 200;

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node audit.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}

const [, , target, ...extra] = process.argv;
if (!target || extra.length > 0 || target === '-h' || target === '--help') usage();
let url;
try {
  url = new URL(target);
} catch {
  usage(`not a valid URL: ${target}`);
}
if (url.protocol !== 'http:' && url.protocol !== 'https:') {
  usage(`URL must be http(s): ${target}`);
}

// global fetch, with a per-request timeout so a hanging server cannot hang the audit.
const fetchFn = (input, init = {}) =>
  fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });

/** One-line description of an error thrown by fetch (no stack). */
function describeError(err) {
  if (err?.name === 'TimeoutError') return `request timed out after ${REQUEST_TIMEOUT_MS} ms`;
  let msg = err?.message ?? String(err);
  let cause = err?.cause;
  while (cause) {
    msg += `: ${cause.code ?? ''}${cause.code && cause.message ? ' ' : ''}${cause.message ?? ''}`.trimEnd();
    cause = cause.cause;
  }
  return msg;
}

/** One-line summary of a Response: status, content-type, body preview. */
async function describeResponse(res) {
  if (!res) return '';
  const ct = res.headers?.get('content-type') ?? '(none)';
  let body;
  try {
    if (res.bodyUsed) {
      body = '(body already consumed)';
    } else {
      const text = await res.text();
      body = JSON.stringify(
        text.length > BODY_PREVIEW_CHARS ? `${text.slice(0, BODY_PREVIEW_CHARS)}…` : text,
      );
    }
  } catch (err) {
    body = `(unreadable body: ${describeError(err)})`;
  }
  return `HTTP ${res.status}, content-type: ${ct}, body: ${body}`;
}

const audits = serverAudits({ url: url.toString(), fetchFn });
const results = [];
// Sequential on purpose: deterministic output, gentle on a dev server.
for (const a of audits) {
  try {
    results.push(await a.fn());
  } catch (err) {
    // graphql-http throws only for "fatal" problems (network errors etc.).
    results.push({ id: a.id, name: a.name, status: 'error', fatal: describeError(err) });
  }
}

const fatal = results.filter((r) => r.fatal);
const allSameFatal = fatal.length === results.length && new Set(fatal.map((r) => r.fatal)).size === 1;

if (allSameFatal) {
  console.log(`error: every audit failed to run against ${url}: ${fatal[0].fatal}`);
} else {
  for (const r of results) {
    if (r.status === 'ok') continue;
    const detail = r.fatal ? `could not run: ${r.fatal}` : `${r.reason} | ${await describeResponse(r.response)}`;
    console.log(`[${r.status}] ${r.id} ${r.name} -- ${detail}`);
  }
}

const count = (s) => results.filter((r) => r.status === s).length;
const passed = count('ok');
const failed = count('error');
const warnings = count('warn');
const notices = count('notice');
if (notices > 0) console.log(`notices (optional MAY audits not met, not counted): ${notices}`);
console.log(`graphql-http serverAudits: ${passed} passed, ${failed} failed, ${warnings} warnings`);
process.exitCode = failed > 0 || warnings > 0 ? 1 : 0;
