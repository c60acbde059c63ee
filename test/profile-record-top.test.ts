// kvmlens top as a user runs it: the known workload (test/fixtures/profile/
// burn.c) shows on top with its symbol resolved; SIGTERM and SIGINT end it
// cleanly whatever stdin is; one table per interval off a terminal, redrawn
// in place on one (a real pty from script(1)); --json is one object per line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'bin', 'kvmlens.js');
const isRoot = process.getuid?.() === 0;
const haveCc = spawnSync('cc', ['--version']).status === 0;
const why = !isRoot ? 'root' : !haveCc ? 'a C compiler (cc)' : '';
const skip = (name: string) => console.log(`skip: ${name}: needs ${why}`);

const dir = mkdtempSync(join(tmpdir(), 'kvmlens-top-'));
const burn = join(dir, 'burn');
if (!why) {
  const cc = spawnSync('cc', ['-O1', '-g', '-o', burn, join(root, 'test', 'fixtures', 'profile', 'burn.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build the workload: ${cc.stderr}`);
}

function exitOf(child: ChildProcess, ms = 10_000): Promise<number | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(-1);
    }, ms);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
}

/** Runs `kvmlens ARGS` with stdin at EOF while burn runs, then sends `signal` after `ms`. */
/**
 * Runs top beside a busy loop until `enough(out)` holds (or 30 s pass), then
 * sends `signal`. Waiting for output, not for a fixed time: Node's start-up
 * on a loaded machine can take most of any fixed window.
 */
async function runTop(args: string[], signal: NodeJS.Signals, enough: (out: string) => boolean, stdin: 'ignore' | 'pipe' = 'ignore') {
  const workload = spawn(burn, ['30'], { stdio: 'ignore' });
  const child = spawn(process.execPath, [cli, ...args.map((a) => (a === '$BURN' ? String(workload.pid) : a))], { stdio: [stdin, 'pipe', 'pipe'] });
  if (stdin === 'pipe') child.stdin!.end(); // EOF right away
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const started = Date.now();
  while (!enough(out) && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 100));
  child.kill(signal);
  const code = await exitOf(child);
  workload.kill('SIGKILL');
  return { code, out, err };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`top prints the workload's symbol per interval and exits 0 on ${signal} (stdin at EOF)`, async () => {
    if (why) return skip('top');
    const r = await runTop(['--host', 'top', '-d', '0.5'], signal, (out) => (out.match(/^ {3}PerfTop: /gm) ?? []).length >= 3, 'pipe');
    assert.is(r.code, 0, r.err);
    const tables = r.out.split(/^ {3}PerfTop: /m).slice(1);
    assert.ok(tables.length >= 2, `one table per interval: ${tables.length}\n${r.out}`);
    assert.not.match(r.out, /\x1b\[/, 'no escape sequences off a terminal');
    const last = tables[tables.length - 1];
    // System-wide, other work on the machine shares the table; the busy
    // loop is in it, named (with -p it must be on top: see below).
    const row = last.split('\n').find((l) => /\[\.\] kvmlens_burn_loop$/.test(l));
    assert.ok(row, `the busy loop is in the table:\n${last}`);
    assert.match(row!, /^\s+[\d.]+%\s+burn\s+\[\.\] kvmlens_burn_loop$/);
    assert.match(last, /irqs\/sec\s+kernel:\s*[\d.]+%\s+lost: \d+\/\d+\s+\[4000Hz (cpu-clock|cycles)\],\s+\(all, \d+ CPUs\)/);
  });
}

test('top -p PID --json: one object per interval, only that process', async () => {
  if (why) return skip('top --json');
  const r = await runTop(['--host', 'top', '-p', '$BURN', '-d', '0.5', '--json', '-E', '0'], 'SIGTERM',
    (out) => out.split('\n').filter((l) => /"samples":[1-9]/.test(l)).length >= 2);
  assert.is(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').filter(Boolean);
  assert.ok(lines.length >= 2, r.out);
  const objs = lines.map((l) => JSON.parse(l));
  const withSamples = objs.filter((o) => o.samples > 0);
  assert.ok(withSamples.length >= 1, r.out);
  for (const o of withSamples) {
    assert.type(o.samplesPerSecond, 'number');
    assert.is(o.entries[0].symbol, 'kvmlens_burn_loop');
    assert.is(o.entries[0].dso, 'burn');
    const sum = o.entries.reduce((s: number, e: { overhead: number }) => s + e.overhead, 0);
    assert.ok(Math.abs(sum - 100) < 0.01, `overheads add up to 100: ${sum}`);
    // Nothing but burn's own code and what it calls.
    for (const e of o.entries) assert.ok(['burn', '[kernel.kallsyms]', 'libc.so.6', 'ld-linux-x86-64.so.2', '[vdso]'].includes(e.dso), e.dso);
  }
});

test('top on a terminal redraws in place and q quits', async () => {
  if (why) return skip('top on a pty');
  if (spawnSync('script', ['--version']).status !== 0) return console.log('skip: top on a pty: needs script(1)');
  const workload = spawn(burn, ['30'], { stdio: 'ignore' });
  const cmd = `${process.execPath} ${cli} --host top -d 0.5`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '100', LINES: '30' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 3000));
  child.stdin!.write('q');
  const code = await exitOf(child);
  workload.kill('SIGKILL');
  assert.is(code, 0, out);
  const redraws = out.split('\x1b[H\x1b[2J').length - 1;
  assert.ok(redraws >= 2, `cleared and redrawn each interval (${redraws})`);
  assert.match(out, /kvmlens_burn_loop/);
});

test('top -e A -e B off a terminal: every event sampled and shown under its own PerfTop heading, each interval', async () => {
  if (why) return skip('top -e -e');
  const heads = (o: string) => o.match(/^ {3}PerfTop: .*\[\S+ (cpu-clock|page-faults)\]/gm) ?? [];
  const r = await runTop(['--host', 'top', '-e', 'cpu-clock', '-e', 'page-faults', '-d', '0.5', '-E', '5'], 'SIGTERM', (o) => heads(o).length >= 4);
  assert.is(r.code, 0, r.err);
  const h = heads(r.out).map((l) => /\[\S+ (\S+)\]/.exec(l)![1]);
  assert.ok(h.length >= 4, r.out);
  // In -e order, interval after interval.
  for (let i = 0; i + 1 < h.length; i += 2) assert.equal(h.slice(i, i + 2), ['cpu-clock', 'page-faults']);
  assert.match(r.out, /kvmlens_burn_loop/); // burn's cycles under cpu-clock
});

test('top -e A -e B --json: every event in `events`, the first also at the top level', async () => {
  if (why) return skip('top -e -e --json');
  const r = await runTop(['--host', 'top', '-e', 'cpu-clock,page-faults', '-d', '0.5', '--json'], 'SIGTERM', (o) => o.split('\n').filter(Boolean).length >= 2);
  assert.is(r.code, 0, r.err);
  for (const line of r.out.split('\n').filter(Boolean)) {
    const o = JSON.parse(line);
    assert.equal(o.events.map((e: { event: string }) => e.event), ['cpu-clock', 'page-faults']);
    assert.is(o.event, 'cpu-clock');
    assert.equal(o.entries, o.events[0].entries);
  }
});

test('top -e A -e B on a terminal: one event at a time, E shows the next, q quits', async () => {
  if (why) return skip('top -e -e on a pty');
  if (spawnSync('script', ['--version']).status !== 0) return console.log('skip: top on a pty: needs script(1)');
  const workload = spawn(burn, ['30'], { stdio: 'ignore' });
  const cmd = `${process.execPath} ${cli} --host top -e cpu-clock -e page-faults -d 0.5`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '120', LINES: '30' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const until = async (cond: () => boolean) => {
    const t0 = Date.now();
    while (!cond() && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
  };
  // Lines are cut to the pty's width: look for the short footer too.
  await until(() => /\(1\/2: cpu-clock\)/.test(out));
  const before = out.length;
  child.stdin!.write('E');
  await until(() => /\(2\/2: page-faults\)/.test(out.slice(before)));
  child.stdin!.write('q');
  const code = await exitOf(child);
  workload.kill('SIGKILL');
  assert.is(code, 0, out);
  const screens = out.split('\x1b[H\x1b[2J').filter((x) => x.includes('PerfTop:'));
  // Each screen shows one event; the ones before E the first, after it the second.
  for (const sc of screens) assert.is((sc.match(/PerfTop:/g) ?? []).length, 1);
  assert.ok(!/page-faults/.test(out.slice(0, before)), 'the first event alone until E');
  assert.match(out.slice(0, before), /\[\S+ cpu-clock\]/);
  assert.match(out.slice(before), /\[E\] next event \(2\/2: page-faults\)/);
});

test('top usage errors are one line', () => {
  const r = spawnSync(process.execPath, [cli, 'top', '-d', 'soon'], { encoding: 'utf8' });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /-d expects a positive number/);
});

test.run();
