// kvmlens report's `trace` sort key against real perf report (6.1): the
// tracepoint text of every entry, as libtraceevent formats the print fmt of
// the recording's tracing data, grouped, counted and laid out as perf does;
// the default sort order (`trace` when every event is a tracepoint, else
// comm,dso,sym); perf kvm stat recordings from the fixtures; and a recording
// of every tracepoint system that fires here. Skips without perf/root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePerf, kvmlens, perf, rows, withoutTip } from './support/profile-oracle.ts';
import { formatTraceTable, traceWidth } from '../src/profile/trace-report.ts';

const dir = mkdtempSync(join(tmpdir(), 'kvmlens-trace-'));
const SCHED_A = join(dir, 'sched-a.data'); // perf record -a: with perf's dummy:HG event
const SCHED_CMD = join(dir, 'sched-cmd.data'); // perf record -- CMD: tracepoints only
const OURS = join(dir, 'ours.data'); // kvmlens record: tracepoints only
const MANY = join(dir, 'many.data');
const FIXTURES = ['test/fixtures/kvm-amd-sample.data', 'test/fixtures/kvm-intel-sample.data', 'test/fixtures/vm/perf-kvm-amd.data', 'test/fixtures/perf-sched-switch.data'];
const WORK = 'ls -R /usr/lib >/dev/null 2>&1; for i in 1 2 3 4 5; do sleep 0.02; done';
// TCP over loopback, IPv4 and IPv6 (tcp:* and sock:* print %pI4, %pI6c, %pISpc).
const NET = `${process.execPath} -e "const n=require('net');for(const h of ['127.0.0.1','::1']){const s=n.createServer(c=>c.end('x')).listen(0,h,()=>n.connect(s.address().port,h).on('data',()=>{}).on('close',()=>s.close()))}"`;

// Systems whose tracepoints fire here in a second or so; a broad mix of
// print fmts (symbols, flags, %pS, printk strings, __get_str, casts, ...).
const SYSTEMS = ['sched', 'irq', 'timer', 'workqueue', 'kmem', 'signal', 'task', 'raw_syscalls', 'block', 'ext4', 'writeback', 'filemap', 'mmap', 'power', 'rcu', 'percpu', 'exceptions', 'tlb', 'ipi', 'csd', 'maple_tree', 'memcg', 'mmap_lock', 'x86_fpu', 'rseq', 'tcp', 'sock', 'net', 'skb', 'fib', 'syscalls'];

test('trace column: as wide as its longest text, but the header width for an event of one sample (perf never formats it before sizing)', () => {
  const entries = [{ text: 'prev_comm=sleep prev_pid=7', samples: 1, period: 1 }];
  assert.is(traceWidth(entries, 1), 'Trace output'.length);
  assert.is(formatTraceTable(entries, 1, 1).split('\n')[3], '   100.00%  prev_comm=sl');
  assert.is(traceWidth(entries, 2), 'prev_comm=sleep prev_pid=7'.length);
});

if (!havePerf()) {
  test('trace sort vs perf (skipped: needs perf and root)', () => {
    console.log('skip: perf not installed or not root');
  });
} else {
  test.before(() => {
    let r = perf(['record', '-q', '-a', '-e', 'sched:sched_switch', '-e', 'sched:sched_wakeup', '-o', SCHED_A, '--', 'sh', '-c', WORK]);
    assert.is(r.status, 0, r.stderr);
    r = perf(['record', '-q', '-e', 'sched:sched_switch', '-e', 'sched:sched_process_exec', '-o', SCHED_CMD, '--', 'sh', '-c', WORK]);
    assert.is(r.status, 0, r.stderr);
    r = kvmlens(['--host', 'record', '-a', '-e', 'sched:sched_switch,sched:sched_wakeup', '-e', 'timer:hrtimer_start', '-o', OURS, '--', 'sh', '-c', WORK]);
    assert.is(r.status, 0, r.stderr);
    const events = SYSTEMS.filter((s) => s !== 'syscalls').flatMap((s) => ['-e', `${s}:*`]);
    events.push('-e', 'syscalls:sys_enter_openat', '-e', 'syscalls:sys_exit_openat');
    r = perf(['record', '-q', '-a', ...events, '-o', MANY, '--', 'sh', '-c', `${WORK}; ${NET}; dd if=/dev/zero of=${dir}/zero bs=1M count=4 conv=fsync 2>/dev/null`]);
    assert.is(r.status, 0, r.stderr);
  });
  test.after(() => rmSync(dir, { recursive: true, force: true }));

  const same = (file: string, extra: string[]) => {
    const p = perf(['report', '--stdio', '-i', file, ...extra]);
    assert.is(p.status, 0, p.stderr);
    const k = kvmlens(['--host', 'report', '-i', file, ...extra]);
    assert.is(k.status, 0, k.stderr);
    assert.ok(rows(p.stdout).length > 0, 'the recording has entries to compare');
    assert.fixture(k.stdout, withoutTip(p.stdout));
    return k;
  };

  test('a file of tracepoints only (perf record -- CMD): trace is the default sort, as perf', () => {
    const k = same(SCHED_CMD, []);
    assert.match(k.stdout, '# Overhead  Trace output');
    assert.match(k.stdout, 'prev_comm=');
  });
  test('kvmlens record -e TRACEPOINT (no dummy event): trace by default in perf report and in kvmlens report', () => {
    const k = same(OURS, []);
    assert.match(k.stdout, 'Trace output');
  });
  test('perf record -a adds dummy:HG: the default stays comm,dso,sym, and --sort trace gives perf\'s text', () => {
    const k = same(SCHED_A, []);
    assert.match(k.stdout, 'Shared Object');
    same(SCHED_A, ['--sort', 'trace']);
    same(SCHED_A, ['--sort', 'comm,dso,sym']);
  });
  for (const f of FIXTURES) {
    test(`${f}: --sort trace as perf report (kvm exit reasons, mmio, pio, msr from the print fmt)`, () => {
      same(f, ['--sort', 'trace']);
    });
  }
  test(`every tracepoint of ${SYSTEMS.length} systems that fired: --sort trace byte for byte as perf`, () => {
    const k = same(MANY, ['--sort', 'trace']);
    const sections = k.stdout.split('\n').filter((l) => l.startsWith('# Samples:')).length;
    assert.ok(sections >= 40, `only ${sections} events fired`);
    assert.match(k.stdout, /of event 'sock:inet_sock_set_state'/);
    assert.match(k.stdout, /saddrv6=::1/);
  });
  test('--sort trace --json: every entry with its text, samples and share', () => {
    const k = kvmlens(['--host', 'report', '-i', SCHED_A, '--sort', 'trace', '--json']);
    assert.is(k.status, 0, k.stderr);
    const j = JSON.parse(k.stdout);
    assert.equal(j.sortKeys, ['trace']);
    const ev = j.events.find((e: { name: string }) => e.name === 'sched:sched_switch');
    assert.ok(ev.entries.length > 0);
    assert.match(ev.entries[0].trace, 'prev_comm=');
    const total = ev.entries.reduce((n: number, e: { samples: number }) => n + e.samples, 0);
    assert.is(total, ev.samples);
  });
  test('--sort trace,comm: a clear error (kvmlens sorts by trace alone)', () => {
    const k = kvmlens(['--host', 'report', '-i', SCHED_A, '--sort', 'trace,comm']);
    assert.is.not(k.status, 0);
    assert.match(k.stderr, 'trace alone');
  });
}

test.run();
