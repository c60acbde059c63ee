// stat live and stat record as a user runs them. The ring-buffer path itself
// is proven in native/test/live_test.cc (exact getppid counts); here: the
// commands, their files (read back by real perf) and their clean exits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'bin', 'kvmlens.js');
const sample = join(root, 'test', 'fixtures', 'vm', 'perf-kvm-amd.data');
const canTrace = process.getuid?.() === 0 && existsSync('/sys/kernel/tracing/events/kvm/kvm_exit');
const havePerf = spawnSync('perf', ['--version']).status === 0;

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

test('stat live --replay prints per-interval tables that add up to stat report', () => {
  const live = run(['stat', 'live', '--replay', sample, '--speed', '0', '-d', '0.2']);
  assert.is(live.status, 0, live.stderr);
  const totals = [...live.stdout.matchAll(/Total Samples:(\d+),/g)].map((m) => Number(m[1]));
  const report = run(['stat', 'report', '-i', sample]);
  const expected = Number(/Total Samples:(\d+),/.exec(report.stdout)![1]);
  assert.ok(totals.length >= 1);
  assert.is(totals.reduce((a, b) => a + b, 0), expected, 'intervals reset, so they sum to the whole');
  assert.match(live.stdout, /^\d\d:\d\d:\d\d\.\d{6}/m);
});

test('stat live --duration prints slow pairs of the analyzed event, HLT excepted', () => {
  const live = run(['stat', 'live', '--replay', sample, '--speed', '0', '-d', '0.2', '--duration', '1000']);
  assert.is(live.status, 0, live.stderr);
  const lines = live.stdout.split('\n').filter((l) => / event took \d+usec$/.test(l));
  assert.ok(lines.length > 0);
  for (const l of lines) {
    assert.match(l, /^\d+ VM \d+, vcpu \d+: \S+ event took \d+usec$/);
    assert.not.match(l, /: (hlt|HLT) event/);
    assert.ok(Number(/took (\d+)usec/.exec(l)![1]) >= 1000);
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`stat live stops cleanly on ${signal} with stdin at EOF`, async () => {
    if (!canTrace) return console.log('skip: needs root and kvm tracepoints in tracefs');
    const child = spawn(process.execPath, [cli, 'stat', 'live', '-d', '0.2'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    // Signal once the first table is out (the handlers are in place by then):
    // a fixed delay races Node's start-up on a loaded machine.
    const started = Date.now();
    while (!/Analyze events/.test(out) && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
    child.kill(signal);
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(-1);
      }, 5000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    assert.is(code, 0, `exit code after ${signal}`);
    assert.match(out, /Analyze events for all VMs, all VCPUs:/);
  });
}

test('stat record writes a perf.data that perf and kvmlens both read', () => {
  if (!canTrace) return console.log('skip: needs root and kvm tracepoints in tracefs');
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-rec-'));
  const file = join(dir, 'rec.data');
  const rec = run(['stat', 'record', '-o', file, '--', 'sleep', '0.3']);
  assert.is(rec.status, 0, rec.stderr);
  assert.match(rec.stderr, /Captured and wrote/);
  const ours = run(['stat', 'report', '-i', file]);
  assert.is(ours.status, 0, ours.stderr);
  assert.match(ours.stdout, /Total Samples:0,/);
  if (havePerf) {
    const perf = spawnSync('perf', ['kvm', '-i', file, 'stat', 'report'], { encoding: 'utf8' });
    assert.is(perf.status, 0, perf.stderr);
    assert.match(perf.stderr, /Total Samples:0,/);
    const header = spawnSync('perf', ['report', '--header-only', '-i', file], { encoding: 'utf8' });
    assert.match(header.stdout, /cpuid : \S+/);
    assert.match(header.stdout, /event : name = kvm:kvm_exit/);
    const script = spawnSync('perf', ['script', '-i', file], { encoding: 'utf8' });
    assert.is(script.status, 0, `perf script: ${script.stderr}`);
  }
});

test('stat record -o - writes perf pipe mode to stdout, which perf kvm stat report, perf script and kvmlens read', () => {
  if (!canTrace) return console.log('skip: needs root and kvm tracepoints in tracefs');
  const rec = spawnSync(process.execPath, [cli, 'stat', 'record', '-a', '-o', '-', '--', 'sh', '-c', 'echo hello; sleep 0.3'], {
    encoding: 'buffer', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
  });
  const err = rec.stderr.toString();
  assert.is(rec.status, 0, err);
  assert.match(err, /^hello$/m, "the command's stdout went to stderr");
  const data = rec.stdout;
  assert.is(data.subarray(0, 8).toString('latin1'), 'PERFILE2');
  assert.is(data.readBigUInt64LE(8), 16n, 'the pipe-mode header');
  const ours = spawnSync(process.execPath, [cli, 'stat', 'report', '-i', '-'], { input: data, encoding: 'utf8' });
  assert.is(ours.status, 0, ours.stderr);
  assert.match(ours.stdout, /Total Samples:0/);
  if (!havePerf) return console.log('skip: perf not installed (the perf side of the pipe check)');
  const header = spawnSync('perf', ['report', '--header-only', '-i', '-'], { input: data, encoding: 'utf8' });
  assert.is(header.status, 0, header.stderr);
  assert.match(header.stdout, /# event : name = kvm:kvm_exit/);
  assert.match(header.stdout, /# cmdline : .*stat record -a -o -/);
  const script = spawnSync('perf', ['script', '-i', '-'], { input: data, encoding: 'utf8' });
  assert.is(script.status, 0, script.stderr);
  assert.is(script.stderr.trim(), '', `perf script warned (the tracing data): ${script.stderr}`);
});

test('the default record file name follows perf kvm (perf.data.guest)', () => {
  if (!canTrace) return console.log('skip: needs root and kvm tracepoints in tracefs');
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-rec-'));
  const r = spawnSync(process.execPath, [cli, 'stat', 'rec', '--', 'true'], { cwd: dir, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'perf.data.guest')));
});

test('stat record without a command records until SIGTERM', async () => {
  if (!canTrace) return console.log('skip: needs root and kvm tracepoints in tracefs');
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-rec-'));
  const file = join(dir, 'until-signal.data');
  const child = spawn(process.execPath, [cli, 'stat', 'record', '-a', '-o', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let signalled = false;
  child.stderr.on('data', (d) => { err += d; });
  const timer = setTimeout(() => { signalled = true; child.kill('SIGTERM'); }, 1500);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  assert.ok(signalled, `stat record exited before it was signalled: ${err}`);
  assert.is(code, 0, err);
  assert.match(err, /Captured and wrote/);
  assert.ok(existsSync(file));
});

test('stat record -- COMMAND: a SIGTERM to kvmlens reaches the command, whose exit ends the recording', async () => {
  if (!canTrace) return console.log('skip: needs root and kvm tracepoints in tracefs');
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-rec-'));
  const file = join(dir, 'command-signal.data');
  const child = spawn(process.execPath, [cli, 'stat', 'record', '-a', '-o', file, '--', 'sleep', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const started = Date.now();
  const timer = setTimeout(() => child.kill('SIGTERM'), 1500);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  assert.ok(Date.now() - started < 30_000, 'the recording ended when sleep did, not after its 60 s');
  assert.is(code, 0, err);
  assert.match(err, /Captured and wrote/);
  assert.ok(existsSync(file));
});

test('bad -m values are one-line errors', () => {
  const r = run(['stat', 'live', '-m', '3', '--replay', sample]);
  if (!canTrace) return;
  const live = run(['stat', 'live', '-m', '3', '-d', '0.1']);
  assert.is.not(live.status, 0);
  assert.match(live.stderr, /power of two/);
  assert.is(live.stderr.trim().split('\n').length, 1, live.stderr);
  void r;
});

test.run();
