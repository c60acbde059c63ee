#!/usr/bin/env node
// Runs every test/*.test.ts file with uvu (through tsx), one process per file
// so a crash in one cannot hide the others, and ends with one summary line
// in the form CI reads: "N passed, N failed".
//   npm test                     all files
//   npm test -- oracle writer    only files whose name contains a word
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const file of files) {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('test', file)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  // uvu's Total leaves skipped tests out.
  let bad = Math.max(0, total - ok);
  if (r.status !== 0 && bad === 0) bad = 1; // crashed or failed outside a test
  passed += ok;
  failed += bad;
  skipped += skip;
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${bad ? 'FAIL' : 'ok  '} ${file}: ${ok} passed, ${bad} failed${skip ? `, ${skip} skipped` : ''} (${secs}s)`);
  if (bad || process.env.KVMLENS_TEST_VERBOSE) {
    failures.push(file);
    process.stdout.write(out.split('\n').map((l) => `    ${l}`).join('\n') + '\n');
  }
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
