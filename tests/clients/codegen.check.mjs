// GraphQL Code Generator (client preset) over the SPA's operations, once
// with the schema introspected from the running server (no credentials,
// codegen.url.ts) and once from schema.graphql (codegen.file.ts); then
// `tsc --noEmit` on typed/screens.ts against each output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, serverUrl } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = (name) => join(here, 'node_modules', '.bin', name);
const url = serverUrl();

function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: here, env: { ...process.env, GRAPHQL_URL: url, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (code) => resolve({ code, output }));
  });
}
const succeed = ({ code, output }, what) => assert.equal(code, 0, `${what} failed:\n${output}`);

rmSync(join(here, 'generated'), { recursive: true, force: true });
const [fromUrl, fromFile] = await Promise.all([
  run(bin('graphql-codegen'), ['--config', 'codegen.url.ts']),
  run(bin('graphql-codegen'), ['--config', 'codegen.file.ts']),
]);
succeed(fromUrl, 'graphql-codegen --config codegen.url.ts');
check('codegen from the live URL (unauthenticated introspection) with the client preset and scalar mappings');
succeed(fromFile, 'graphql-codegen --config codegen.file.ts');
check('codegen from schema.graphql with the client preset and scalar mappings');

const files = (dir) => readdirSync(join(here, 'generated', dir)).sort();
assert.deepEqual(files('url'), files('file'));
for (const file of files('url')) {
  assert.equal(
    readFileSync(join(here, 'generated/url', file), 'utf8'),
    readFileSync(join(here, 'generated/file', file), 'utf8'),
    `generated/url/${file} and generated/file/${file} differ`,
  );
}
check('both codegen runs generate the same code');

const [tscUrl, tscFile] = await Promise.all([
  run(bin('tsc'), ['-p', 'tsconfig.url.json']),
  run(bin('tsc'), ['-p', 'tsconfig.file.json']),
]);
succeed(tscUrl, 'tsc -p tsconfig.url.json');
check('tsc --noEmit: typed/screens.ts against the code generated from the URL');
succeed(tscFile, 'tsc -p tsconfig.file.json');
check('tsc --noEmit: typed/screens.ts against the code generated from schema.graphql');
