// C++ symbol names in report and top as perf shows them: a C++ workload
// (test/fixtures/profile/burn_cxx.cc, built with g++) is recorded with Debian's
// real `perf record`; `kvmlens report` must show the same demangled names as
// `perf report --stdio` (no parameters, no return type), and with
// --no-demangle the same mangled ones as `perf report --no-demangle`; top
// shows the demangled names too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'bin', 'kvmlens.js');
const isRoot = process.getuid?.() === 0;
const havePerf = spawnSync('perf', ['--version']).status === 0;
const haveGxx = spawnSync('g++', ['--version']).status === 0;
const why = !isRoot ? 'root' : !havePerf ? 'perf' : !haveGxx ? 'a C++ compiler (g++)' : '';
const skip = (name: string) => console.log(`skip: ${name}: needs ${why}`);

const dir = mkdtempSync(join(tmpdir(), 'kvmlens-demangle-'));
const home = join(dir, 'home'); // perf record's build-id cache stays in the test's directory
mkdirSync(home, { recursive: true });
const env = { ...process.env, HOME: home };
const work = join(dir, 'burn_cxx');
const data = join(dir, 'perf.data');
if (!why) {
  const cxx = spawnSync('g++', ['-O1', '-g', '-o', work, join(root, 'test', 'fixtures', 'profile', 'burn_cxx.cc')], { encoding: 'utf8' });
  if (cxx.status !== 0) throw new Error(`cannot build the workload: ${cxx.stderr}`);
  const rec = spawnSync('perf', ['record', '-q', '-o', data, work, '4'], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  if (rec.status !== 0) throw new Error(`perf record failed: ${rec.stderr}`);
}

function run(cmd: string, args: string[]) {
  return spawnSync(cmd, args, { cwd: dir, env, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
}

/** The workload's own rows of a --stdio table: "overhead% symbol". */
function workloadRows(stdout: string): string[] {
  const rows: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s+([\d.]+)%\s+burn_cxx\s+burn_cxx\s+\[\.\]\s+(.*?)\s*$/.exec(line);
    if (m) rows.push(`${m[1]}% ${m[2]}`);
  }
  return rows.sort();
}

// What perf shows for the fixture's functions (perf 6.1, checked by hand).
const expected = [
  'kvmlens_ns::Box<unsigned long>::spin',
  'kvmlens_ns::burn',
  'kvmlens_ns::twice<unsigned long>',
  'kvmlens_ns::Worker::run',
  'kvmlens_ns::Worker::operator<<',
  'kvmlens_ns::Worker::operator unsigned long',
  'kvmlens_ns::Functor::operator()',
  'kvmlens_ns::operator< <unsigned long>',
  'main::{lambda(unsigned long)#1}::operator()',
  '(anonymous namespace)::hidden',
  'kvmlens_ns::cloned',
];

test('report shows C++ symbols demangled exactly as perf report --stdio', () => {
  if (why) return skip('report demangling');
  const p = run('perf', ['report', '--stdio', '-i', data]);
  assert.is(p.status, 0, p.stderr);
  const k = run(process.execPath, [cli, '--host', 'report', '-i', data]);
  assert.is(k.status, 0, k.stderr);
  const perfRows = workloadRows(p.stdout);
  assert.ok(perfRows.length >= expected.length, p.stdout);
  assert.equal(workloadRows(k.stdout), perfRows);
  const names = perfRows.map((r) => r.replace(/^\S+ /, ''));
  for (const name of expected) assert.ok(names.includes(name), `${name} in:\n${names.join('\n')}`);
  assert.not.match(k.stdout, /\[\.\] _Z/);
});

test('report --no-demangle shows the mangled names, as perf report --no-demangle', () => {
  if (why) return skip('report --no-demangle');
  const p = run('perf', ['report', '--stdio', '--no-demangle', '-i', data]);
  const k = run(process.execPath, [cli, '--host', 'report', '--no-demangle', '-i', data]);
  assert.is(k.status, 0, k.stderr);
  const rows = workloadRows(k.stdout);
  assert.equal(rows, workloadRows(p.stdout));
  assert.ok(rows.some((r) => r.endsWith(' _ZN10kvmlens_ns3BoxImE4spinEm')), rows.join('\n'));
  assert.ok(rows.some((r) => r.endsWith(' _ZN10kvmlens_ns6clonedEm.isra.0')), rows.join('\n'));
});

test('report --json gives the demangled name', () => {
  if (why) return skip('report --json');
  const k = run(process.execPath, [cli, '--host', 'report', '--json', '-i', data]);
  assert.is(k.status, 0, k.stderr);
  const symbols = JSON.parse(k.stdout).events[0].entries.map((e: { symbol: string | null }) => e.symbol);
  assert.ok(symbols.includes('kvmlens_ns::Box<unsigned long>::spin'), symbols.join('\n'));
});

test('top -p shows the demangled names', async () => {
  if (why) return skip('top demangling');
  // top -p ends by itself when the workload exits.
  const workload = spawn(work, ['30'], { stdio: 'ignore' });
  const top = spawn(process.execPath, [cli, '--host', 'top', '-p', String(workload.pid), '-d', '0.5', '--json'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  top.stdout.on('data', (d) => (out += d));
  top.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => {
      top.kill('SIGKILL');
      workload.kill('SIGKILL');
      resolve(-1);
    }, 60_000);
    top.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  assert.is(code, 0, err);
  const symbols = new Set<string>();
  for (const line of out.trim().split('\n').filter(Boolean))
    for (const e of JSON.parse(line).entries as { symbol: string | null }[]) if (e.symbol) symbols.add(e.symbol);
  assert.ok(symbols.has('kvmlens_ns::Functor::operator()'), [...symbols].join('\n'));
  assert.ok(![...symbols].some((s) => s.startsWith('_Z')), [...symbols].join('\n'));
});

test.run();
