// Host symbol sources and bad input for report / buildid-list: build-id
// matches and mismatches (with perf as the oracle where it runs), kallsyms
// problems, damaged and missing files. Each problem is one warning naming
// the file; the report still prints, with raw addresses where symbols are
// missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MISC_KERNEL, MISC_USER, ProfileDataWriter, parseSymbolMap } from './support/profile-data-writer.ts';
import { havePerf, kvmlens, perf, rows, run, withoutTip } from './support/profile-oracle.ts';

const dir = mkdtempSync(join(tmpdir(), 'kvmlens-input-'));
const emptyCache = mkdtempSync(join(tmpdir(), 'kvmlens-buildid-'));
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(emptyCache, { recursive: true, force: true });
});

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const BASE = 0x7f1000000000n;

/** libc's build-id and a few of its dynamic function symbols, by file offset (from readelf). */
function libcFacts(): { buildId: string; syms: { name: string; off: bigint }[] } | undefined {
  const notes = run('readelf', ['-n', LIBC]);
  const dyn = run('readelf', ['-W', '--dyn-syms', LIBC]);
  const segs = run('readelf', ['-W', '-l', LIBC]);
  if (notes.status !== 0 || dyn.status !== 0 || segs.status !== 0) return undefined;
  const buildId = /Build ID: ([0-9a-f]+)/.exec(notes.stdout)?.[1];
  if (!buildId) return undefined;
  const loads = [...segs.stdout.matchAll(/LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/g)].map((m) => ({
    off: BigInt(`0x${m[1]}`),
    vaddr: BigInt(`0x${m[2]}`),
    size: BigInt(`0x${m[3]}`),
  }));
  const syms: { name: string; off: bigint }[] = [];
  for (const name of ['malloc', 'free', 'qsort', 'strtol']) {
    const m = new RegExp(`:\\s+([0-9a-f]+)\\s+(\\d+)\\s+FUNC\\s+\\S+\\s+DEFAULT\\s+\\d+\\s+${name}(@@\\S+)?$`, 'm').exec(dyn.stdout);
    if (!m || Number(m[2]) < 16) continue;
    const vaddr = BigInt(`0x${m[1]}`);
    const seg = loads.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.size);
    if (seg) syms.push({ name, off: vaddr - seg.vaddr + seg.off });
  }
  return syms.length >= 3 ? { buildId, syms } : undefined;
}

function libcProfile(path: string, buildId?: string) {
  const facts = libcFacts()!;
  const w = new ProfileDataWriter();
  if (buildId) w.buildId(buildId, LIBC, MISC_USER);
  w.comm(700, 700, 'worker');
  w.mmap(700, BASE, BigInt(statSync(LIBC).size), 0n, LIBC);
  facts.syms.forEach((s, i) => {
    for (let k = 0; k < 5 * (i + 1); k++) w.sample({ ip: BASE + s.off + BigInt(k % 4), pid: 700, cpumode: MISC_USER });
  });
  w.write(path);
  return facts;
}

const facts = libcFacts();
if (!facts) {
  test('libc symbol sources (skipped: readelf or libc facts missing)', () => console.log('skip: readelf missing'));
} else {
  test('a DSO whose build-id matches the recording resolves its symbols (and agrees with perf)', () => {
    const f = join(dir, 'libc-match.data');
    libcProfile(f, facts.buildId);
    const k = kvmlens(['--host', 'report', '-i', f, `--buildid-dir=${emptyCache}`]);
    assert.is(k.status, 0, k.stderr);
    for (const s of facts.syms) assert.match(k.stdout, new RegExp(`worker\\s+libc\\.so\\.6\\s+\\[\\.\\] \\S*${s.name}\\S*\\n`));
    assert.is(k.stderr, '');
    if (!havePerf()) return;
    const p = perf(['--buildid-dir', emptyCache, 'report', '--stdio', '-i', f]);
    assert.is(p.status, 0, p.stderr);
    assert.fixture(k.stdout, withoutTip(p.stdout));
  });

  test('a DSO whose build-id does not match: a warning naming it, raw addresses (as perf)', () => {
    const f = join(dir, 'libc-mismatch.data');
    const wrong = '00112233445566778899aabbccddeeff00112233';
    libcProfile(f, wrong);
    const k = kvmlens(['--host', 'report', '-i', f, `--buildid-dir=${emptyCache}`]);
    assert.is(k.status, 0, k.stderr);
    assert.match(k.stderr, new RegExp(`${LIBC}: build-id ${facts.buildId} does not match the recording's ${wrong}`));
    assert.is(k.stderr.trim().split('\n').length, 1, 'one warning');
    assert.is(rows(k.stdout).filter((l) => /libc\.so\.6\s+\[\.\] 0x[0-9a-f]{16}$/.test(l)).length, rows(k.stdout).length);
    if (!havePerf()) return;
    const p = perf(['--buildid-dir', emptyCache, 'report', '--stdio', '-i', f]);
    assert.fixture(k.stdout, withoutTip(p.stdout));
    const b = kvmlens(['buildid-list', '-i', f]);
    assert.is(b.stdout, perf(['buildid-list', '-i', f]).stdout);
    assert.is(b.stdout, `${wrong} ${LIBC}\n`);
  });
}

const kallsyms = parseSymbolMap(readFileSync('/proc/kallsyms', 'utf8'));
const text = kallsyms.find((s) => s.name === '_text')?.addr;
const etext = kallsyms.find((s) => s.name === '_etext')?.addr;
const readable = text !== undefined && text !== 0n && etext !== undefined;

function kernelProfile(path: string, buildId?: string) {
  const w = new ProfileDataWriter();
  if (buildId) w.buildId(buildId, '[kernel.kallsyms]', MISC_KERNEL);
  w.kernelMmap(text!, etext!);
  w.comm(0, 0, 'swapper');
  const picks = kallsyms.filter((s) => s.type === 'T' && s.addr > text! && s.addr < etext!).filter((_, i) => i % 997 === 0).slice(0, 4);
  picks.forEach((s, i) => {
    for (let k = 0; k < 3 * (i + 1); k++) w.sample({ ip: s.addr, pid: 0, cpumode: MISC_KERNEL });
  });
  w.write(path);
  return picks;
}

if (!readable) {
  test('kernel symbol sources (skipped: /proc/kallsyms addresses are hidden)', () => console.log('skip: not root'));
} else {
  test('host kernel samples resolve through /proc/kallsyms; --kallsyms=FILE overrides; a bad one is named', () => {
    const f = join(dir, 'kernel.data');
    const picks = kernelProfile(f);
    const k = kvmlens(['--host', 'report', '-i', f, `--buildid-dir=${emptyCache}`]);
    assert.is(k.status, 0, k.stderr);
    assert.is(rows(k.stdout).length, picks.length);
    for (const s of picks) assert.ok(rows(k.stdout).some((l) => /swapper\s+\[kernel\.kallsyms\]\s+\[k\] \S+$/.test(l)), s.name);
    const missing = join(dir, 'missing.kallsyms');
    const m = kvmlens(['--host', 'report', '-i', f, `--kallsyms=${missing}`]);
    assert.is(m.status, 0);
    assert.match(m.stderr, new RegExp(`kallsyms ${missing}: cannot read: No such file or directory; samples there are shown as raw addresses`));
    for (const s of picks) assert.ok(m.stdout.includes(`[k] 0x${s.addr.toString(16).padStart(16, '0')}`));
  });

  test('a recording of another kernel (build-id not the running one, not cached): a warning, raw addresses', () => {
    const f = join(dir, 'other-kernel.data');
    const other = 'ffeeddccbbaa99887766554433221100ffeeddcc';
    const picks = kernelProfile(f, other);
    const k = kvmlens(['--host', 'report', '-i', f, `--buildid-dir=${emptyCache}`]);
    assert.is(k.status, 0, k.stderr);
    assert.match(k.stderr, new RegExp(`the recording's kernel \\(build-id ${other}\\) is not the running kernel .* --kallsyms=FILE`));
    for (const s of picks) assert.ok(k.stdout.includes(`[k] 0x${s.addr.toString(16).padStart(16, '0')}`));
  });
}

test('a damaged data section: the report of what came before, a warning with the offset, exit 1', () => {
  const w = new ProfileDataWriter();
  w.comm(9, 9, 'busy');
  for (let i = 0; i < 10; i++) w.sample({ ip: 0x1000n, pid: 9, cpumode: MISC_USER });
  const bad = Buffer.alloc(16);
  bad.writeUInt32LE(9, 0);
  bad.writeUInt16LE(2, 4);
  bad.writeUInt16LE(400, 6); // says 400 bytes, the file ends first
  w.raw(bad);
  const f = join(dir, 'damaged.data');
  w.write(f);
  const k = kvmlens(['--host', 'report', '-i', f]);
  assert.is(k.status, 1);
  assert.match(k.stdout, /100\.00%\s+busy\s+\[unknown\]\s+\[\.\] 0x0000000000001000/);
  assert.match(k.stderr, new RegExp(`${f}: offset \\d+: truncated record`));
});

test('Total Lost Samples counts LOST_SAMPLES records only, as perf report does (LOST records are not in it)', () => {
  const w = new ProfileDataWriter();
  w.comm(9, 9, 'busy');
  for (let i = 0; i < 10; i++) w.sample({ ip: 0x1000n, pid: 9, cpumode: MISC_USER });
  w.lost(7n);
  w.lostSamples(5n);
  w.lostSamples(3n);
  const f = join(dir, 'lost.data');
  w.write(f);
  const k = kvmlens(['--host', 'report', '-i', f]);
  assert.is(k.status, 0, k.stderr);
  assert.match(k.stdout, /^# Total Lost Samples: 8$/m);
  assert.match(k.stderr, new RegExp(`${f}: 7 events were lost while recording \\(ring buffer overflow\\)`));
  assert.match(k.stderr, new RegExp(`${f}: 8 samples were lost while recording \\(44\\.44%\\)`));
  const j = kvmlens(['--host', 'report', '-i', f, '--json']);
  const json = JSON.parse(j.stdout);
  assert.is(json.lostSamples, 8);
  assert.is(json.lost, 15);
  if (havePerf()) {
    const p = perf(['report', '--stdio', '-i', f]);
    assert.is(p.status, 0, p.stderr);
    assert.match(p.stdout, /^# Total Lost Samples: 8$/m);
  } else console.log('skip: perf not installed (the perf side of the lost-samples check)');
});

test('--sort sym: unresolved samples at the same address in two DSOs are one entry, as perf compares them by address alone', () => {
  const w = new ProfileDataWriter();
  w.comm(9, 9, 'busy');
  w.mmap(9, 0x7f0000000000n, 0x10000n, 0n, '/nonexistent/liba.so');
  w.mmap(9, 0x7f1000000000n, 0x10000n, 0n, '/nonexistent/libb.so');
  for (let i = 0; i < 6; i++) w.sample({ ip: 0x7f0000000000n + 0x8128n, pid: 9, cpumode: MISC_USER });
  for (let i = 0; i < 3; i++) w.sample({ ip: 0x7f1000000000n + 0x8128n, pid: 9, cpumode: MISC_USER });
  w.sample({ ip: 0x7f1000000000n + 0x100n, pid: 9, cpumode: MISC_USER });
  const f = join(dir, 'same-address.data');
  w.write(f);
  const k = kvmlens(['--host', 'report', '-i', f, '--sort', 'sym']);
  assert.is(k.status, 0, k.stderr);
  assert.equal(rows(k.stdout).map((l) => l.trim().replace(/\s+/g, ' ')), ['90.00% [.] 0x0000000000008128', '10.00% [.] 0x0000000000000100']);
  const kd = kvmlens(['--host', 'report', '-i', f, '--sort', 'dso,sym']);
  assert.is(rows(kd.stdout).length, 3, 'with the dso key they stay apart');
  if (havePerf()) {
    for (const sort of ['sym', 'dso,sym']) {
      const p = perf(['report', '--stdio', '-i', f, '--sort', sort]);
      assert.is(p.status, 0, p.stderr);
      const again = kvmlens(['--host', 'report', '-i', f, '--sort', sort]);
      assert.equal(rows(again.stdout), rows(withoutTip(p.stdout)), `--sort ${sort}`);
    }
  } else console.log('skip: perf not installed (the perf side of the same-address check)');
});

test('diff: entries whose |delta| ties are ordered by their baseline, larger first, as perf diff orders them', () => {
  const profile = (path: string, counts: [string, number][]) => {
    const w = new ProfileDataWriter();
    w.comm(9, 9, 'busy');
    counts.forEach(([lib], i) => w.mmap(9, 0x7f0000000000n + BigInt(i) * 0x1000000n, 0x10000n, 0n, `/nonexistent/${lib}`));
    counts.forEach(([, n], i) => {
      for (let k = 0; k < n; k++) w.sample({ ip: 0x7f0000000100n + BigInt(i) * 0x1000000n, pid: 9, cpumode: MISC_USER });
    });
    w.write(path);
  };
  const old = join(dir, 'tie-old.data');
  const now = join(dir, 'tie-new.data');
  // |delta| of liba and libb tie at 5 points; libb has the larger baseline.
  profile(old, [['liba.so', 10], ['libb.so', 20], ['libc.so', 70]]);
  profile(now, [['liba.so', 15], ['libb.so', 25], ['libc.so', 60]]);
  const k = kvmlens(['--host', 'diff', old, now]);
  assert.is(k.status, 0, k.stderr);
  const order = rows(k.stdout).map((l) => /\b(lib[abc]\.so)\b/.exec(l)?.[1]);
  assert.equal(order, ['libc.so', 'libb.so', 'liba.so']);
  if (havePerf()) {
    const p = perf(['diff', old, now]);
    assert.is(p.status, 0, p.stderr);
    assert.equal(rows(k.stdout), rows(p.stdout));
  } else console.log('skip: perf not installed (the perf side of the diff tie check)');
});

test('percentages round as printf does (exact ties to even: 0.125% is 0.12%), in report and diff', () => {
  const profile = (path: string, counts: [string, number][]) => {
    const w = new ProfileDataWriter();
    w.comm(9, 9, 'busy');
    counts.forEach(([lib], i) => w.mmap(9, 0x7f0000000000n + BigInt(i) * 0x1000000n, 0x10000n, 0n, `/nonexistent/${lib}`));
    counts.forEach(([, n], i) => {
      for (let k = 0; k < n; k++) w.sample({ ip: 0x7f0000000100n + BigInt(i) * 0x1000000n, pid: 9, cpumode: MISC_USER });
    });
    w.write(path);
  };
  const old = join(dir, 'round-old.data');
  const now = join(dir, 'round-new.data');
  profile(old, [['liba.so', 800]]);
  profile(now, [['liba.so', 799], ['libb.so', 1]]); // libb: 1/800 = 0.125%, exactly
  const r = kvmlens(['--host', 'report', '-i', now, '--sort', 'dso']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\s+0\.12%\s+libb\.so\s*$/m);
  const d = kvmlens(['--host', 'diff', old, now]);
  assert.is(d.status, 0, d.stderr);
  assert.match(d.stdout, /^\s+\+0\.12%\s+libb\.so/m);
  assert.match(d.stdout, /^\s+100\.00%\s+-0\.12%\s+liba\.so/m);
  if (havePerf()) {
    assert.equal(rows(r.stdout), rows(withoutTip(perf(['report', '--stdio', '-i', now, '--sort', 'dso']).stdout)));
    assert.equal(rows(d.stdout), rows(perf(['diff', old, now]).stdout));
  } else console.log('skip: perf not installed (the perf side of the rounding check)');
});

test('a missing or foreign input file is one clear error', () => {
  const missing = join(dir, 'nope.data');
  const k = kvmlens(['report', '-i', missing]);
  assert.is(k.status, 1);
  assert.is(k.stderr.trim(), `kvmlens: ${missing}: no such file`);
  const foreign = join(dir, 'foreign.data');
  writeFileSync(foreign, 'hello world, not perf');
  const f = kvmlens(['buildid-list', '-i', foreign]);
  assert.is(f.status, 1);
  assert.match(f.stderr, /not a perf\.data file/);
  const u = kvmlens(['report', '-i', foreign, '--sort', 'cpu']);
  assert.is.not(u.status, 0);
  assert.match(u.stderr, /unknown sort key 'cpu'/);
});

test('--help of report, diff and buildid-list', () => {
  for (const cmd of ['report', 'diff', 'buildid-list']) {
    const h = kvmlens([cmd, '--help']);
    assert.is(h.status, 0);
    assert.match(h.stdout, /Usage: kvmlens/);
  }
});

test.run();
