// Call graphs: `kvmlens record -g` files read by Debian's real perf (perf
// script shows the multi-frame stacks of a frame-pointer workload), and
// `kvmlens report` on files with call chains (ours and perf record -g ones)
// printing what perf report prints in children and --no-children mode.
// Skips without root, perf or a C compiler.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withoutTip } from './support/profile-oracle.ts';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'bin', 'kvmlens.js');
const isRoot = process.getuid?.() === 0;
const havePerf = spawnSync('perf', ['--version']).status === 0;
const haveCc = spawnSync('cc', ['--version']).status === 0;
const why = !isRoot ? 'root' : !havePerf ? 'perf' : !haveCc ? 'a C compiler (cc)' : '';

const dir = mkdtempSync(join(tmpdir(), 'kvmlens-callgraph-'));
const home = join(dir, 'home');
mkdirSync(home, { recursive: true });
const work = join(dir, 'callchain');
if (!why) {
  const cc = spawnSync('cc', ['-O1', '-fno-omit-frame-pointer', '-Wl,--build-id', '-o', work, join(root, 'test', 'fixtures', 'profile', 'callchain.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build the workload: ${cc.stderr}`);
}

function kvmlens(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: dir, env: { ...process.env, HOME: home }, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 });
}
function perf(args: string[]) {
  return spawnSync('perf', args, { cwd: dir, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 });
}

/** perf script's samples: each a list of "symbol (dso)" frames, innermost first. */
function scriptStacks(file: string): string[][] {
  const r = perf(['script', '-i', file]);
  assert.is(r.status, 0, r.stderr);
  const stacks: string[][] = [];
  let cur: string[] | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') { cur = undefined; continue; }
    if (!line.startsWith('\t')) { cur = []; stacks.push(cur); continue; }
    const m = /^\s+[0-9a-f]+ (\S+?)(?:\+0x[0-9a-f]+)? \((.*)\)$/.exec(line);
    if (m && cur) cur.push(`${m[1]} (${m[2]})`);
  }
  return stacks;
}

const recorded: Record<string, string> = {};
function recordWith(flags: string[]): string {
  const key = flags.join(' ');
  if (recorded[key]) return recorded[key];
  const file = join(dir, `rec${Object.keys(recorded).length}.data`);
  const r = kvmlens(['--host', 'record', ...flags, '-o', file, '--', work, '1']);
  assert.is(r.status, 0, r.stderr);
  recorded[key] = file;
  return file;
}

for (const flags of [['-g'], ['--call-graph', 'fp'], ['--call-graph=fp']]) {
  test(`record ${flags.join(' ')}: perf script shows the workload's call chains`, () => {
    if (why) return console.log(`skip: record ${flags.join(' ')}: needs ${why}`);
    const file = recordWith(flags);
    const evlist = perf(['evlist', '-v', '-i', file]);
    assert.match(evlist.stdout, /sample_type: [A-Z|]*CALLCHAIN/);
    const stacks = scriptStacks(file);
    assert.ok(stacks.length > 1000, `${stacks.length} samples`);
    const w = `(${work})`;
    const deep = stacks.filter((s) => s[0] === `kvmlens_cg_leaf ${w}` && s[1] === `kvmlens_cg_outer ${w}` && s[2] === `main ${w}`);
    const direct = stacks.filter((s) => s[0] === `kvmlens_cg_leaf ${w}` && s[1] === `main ${w}`);
    // outer calls leaf with twice the work main gives it directly.
    assert.ok(deep.length > stacks.length * 0.5, `${deep.length} of ${stacks.length} samples in leaf <- outer <- main`);
    assert.ok(direct.length > stacks.length * 0.2, `${direct.length} of ${stacks.length} samples in leaf <- main`);
    assert.ok(deep.every((s) => s.length >= 4 && s[3].includes('libc')), 'main is called from libc');
    const report = perf(['report', '--stdio', '-i', file]);
    assert.is(report.status, 0, report.stderr);
    assert.is(report.stderr.trim(), '', `perf report warned: ${report.stderr}`);
  });
}

for (const mode of ['dwarf', 'lbr', 'dwarf,8192']) {
  test(`record --call-graph ${mode}: one line saying only fp is supported`, () => {
    const r = kvmlens(['--host', 'record', '--call-graph', mode, '-o', join(dir, 'no.data'), '--', 'true']);
    assert.is(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`--call-graph ${mode.split(',')[0]} is not supported.*fp`));
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
