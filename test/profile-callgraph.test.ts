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

// kvmlens record and perf record add to the build-id cache in
// $HOME/.debug: a home of the test's own for both tools.
function kvmlens(args: string[]) {
  const env = { ...process.env, HOME: home };
  return spawnSync(process.execPath, [cli, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 });
}
// perf too: it looks for DSOs (the vDSO, say) in $HOME/.debug.
function perf(args: string[]) {
  return spawnSync('perf', args, { cwd: dir, env: { ...process.env, HOME: home }, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 });
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
    // outer calls leaf with twice the work main gives it directly, recurse with half.
    assert.ok(deep.length > stacks.length * 0.4, `${deep.length} of ${stacks.length} samples in leaf <- outer <- main`);
    assert.ok(direct.length > stacks.length * 0.15, `${direct.length} of ${stacks.length} samples in leaf <- main`);
    const recursive = stacks.filter((s) => s[0] === `kvmlens_cg_leaf ${w}` && s.slice(1, 5).every((f) => f === `kvmlens_cg_recurse ${w}`) && s[5] === `main ${w}`);
    assert.ok(recursive.length > stacks.length * 0.05, `${recursive.length} of ${stacks.length} samples in leaf <- recurse x4 <- main`);
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

function perfRecordG(name: string, command: string[]): string {
  const file = join(dir, name);
  const r = perf(['record', '-q', '-g', '-e', 'cpu-clock', '-o', file, '--', ...command]);
  assert.is(r.status, 0, r.stderr);
  return file;
}

/** kvmlens report and perf report --stdio -g none on FILE, with these options: the same text. */
function sameAsPerf(file: string, extra: string[], ours: string[] = extra) {
  const p = perf(['report', '--stdio', '-g', 'none', '-i', file, ...extra]);
  assert.is(p.status, 0, p.stderr);
  const k = kvmlens(['--host', 'report', '-i', file, ...ours]);
  assert.is(k.status, 0, k.stderr);
  assert.fixture(k.stdout, withoutTip(p.stdout), `${file} ${extra.join(' ')}`);
  return k.stdout;
}

const sorts = [[], ['--sort', 'dso,sym'], ['--sort', 'comm,dso'], ['--sort', 'dso'], ['--sort', 'comm']];

test('report on a kvmlens record -g file: Children/Self as perf report, and --no-children', () => {
  if (why) return console.log(`skip: report on call chains: needs ${why}`);
  const file = recordWith(['-g']);
  const text = sameAsPerf(file, []);
  assert.match(text, /^# Children {6}Self {2}Command/m);
  // main holds most samples of the workload, with (almost) no self time.
  // (The exact figures are perf's, checked above; on a loaded machine the
  // process's start-up and exit take a few percent outside main.)
  assert.match(text, /^\s+(8\d|9\d|100)\.\d\d%\s+0\.\d\d%\s+callchain\s+callchain\s+\[\.\] main$/m);
  assert.match(text, /^\s+[4-7]\d\.\d\d%\s+0\.\d\d%\s+callchain\s+callchain\s+\[\.\] kvmlens_cg_outer$/m);
  // kvmlens_cg_recurse is four frames deep on its stacks and counts once (~1/7 of the samples, not 4/7).
  const rec = /^\s+([\d.]+)%\s+0\.\d\d%\s+callchain\s+callchain\s+\[\.\] kvmlens_cg_recurse$/m.exec(text);
  assert.ok(rec && Number(rec[1]) > 5 && Number(rec[1]) < 25, `kvmlens_cg_recurse: ${rec?.[1]}%`);
  for (const s of sorts) {
    sameAsPerf(file, s);
    sameAsPerf(file, ['--no-children', ...s]);
  }
  // perf's spellings: --children (the default here) and -g none.
  sameAsPerf(file, ['--children'], ['--children', '-g', 'none']);
});

test('report on perf record -g files (the workload, node with C++ and JIT frames): as perf report', () => {
  if (why) return console.log(`skip: report on perf record -g: needs ${why}`);
  const w = perfRecordG('perf-g.data', [work, '1']);
  const n = perfRecordG('node-g.data', [process.execPath, '-e',
    'let s = 0; for (let i = 0; i < 2e7; i++) s += Math.sqrt(i); JSON.stringify(Array.from({ length: 1e5 }, (_, i) => ({ i })))']);
  for (const s of sorts) {
    sameAsPerf(w, s);
    sameAsPerf(w, ['--no-children', ...s]);
  }
  // node by symbol differs in one known way, not of call chains: a caller
  // at an address that both a function and a zero-sized label inside it
  // (V8's construct_stub_create_deopt_addr) cover; kvmlens picks the label,
  // perf's symbol tree the function. By shared object they agree exactly.
  for (const s of [['--sort', 'dso'], ['--sort', 'comm,dso']]) {
    sameAsPerf(n, s);
    sameAsPerf(n, ['--no-children', ...s]);
  }
  sameAsPerf(n, ['--no-children']);
});

test('report on a system-wide perf record -g -a file (kernel stacks, garbage user frames): as perf report', () => {
  if (why) return console.log(`skip: report on perf record -g -a: needs ${why}`);
  const file = join(dir, 'system-g.data');
  const r = perf(['record', '-q', '-g', '-a', '-e', 'cpu-clock', '-o', file, '--', 'sh', '-c', 'ls -R /usr/share >/dev/null 2>&1; cat /usr/bin/* | md5sum >/dev/null']);
  assert.is(r.status, 0, r.stderr);
  // Other processes run meanwhile: node (see the label case above) and
  // whatever else the machine does; one known difference there is open
  // (frames of a process that node forked and that exec'd qemu, which
  // kvmlens finds in node's maps and perf in none). So the workload's own
  // commands (--comm) are compared whole, and every kernel entry.
  // (kvmlens report has no --comm yet: the rows of these commands are
  // taken from both outputs, blanks squeezed, as column widths count all.)
  // User-space frames of these commands are not compared: garbage stack
  // words (-fomit-frame-pointer code) sometimes fall into a map kvmlens
  // still holds for the process and perf does not (seen twice in CI: an ls
  // frame in node's text); that difference is open. Their kernel rows are.
  const workload = (t: string) =>
    t.split('\n').filter((l) => /^\s+[\d.]+%(\s+[\d.]+%)?\s+(ls|cat|md5sum|sh)\s+\[kernel\.kallsyms\]/.test(l)).map((l) => l.replace(/\s+/g, ' ')).join('\n');
  for (const s of [[], ['--sort', 'comm,dso']]) {
    for (const mode of [[], ['--no-children']]) {
      const p = perf(['report', '--stdio', '-g', 'none', '-i', file, ...mode, ...s]);
      const k = kvmlens(['--host', 'report', '-i', file, ...mode, ...s]);
      assert.is(k.status, 0, k.stderr);
      assert.ok(workload(p.stdout).split('\n').length > (s.includes('comm,dso') ? 1 : 10), 'rows of the workload to compare');
      // Entries of unresolved garbage addresses (stack words taken for
      // return addresses) with equal shares: perf's order of them is its
      // tree's, under a comparison that is not an order (a u64 difference
      // taken as signed); kvmlens orders them by address. The same rows,
      // and the same order of all others.
      const [kw, pw] = [workload(k.stdout), workload(p.stdout)];
      const sorted = (t: string) => t.split('\n').sort().join('\n');
      assert.fixture(sorted(kw), sorted(pw), [...mode, ...s].join(' '));
      const resolved = (t: string) => t.split('\n').filter((l) => !/\[unknown\]|\] 0x[0-9a-f]{16}$|\] 0{16}$/.test(l)).join('\n');
      assert.fixture(resolved(kw), resolved(pw), [...mode, ...s].join(' '));
    }
  }
  const kernel = (t: string) => t.split('\n').filter((l) => l.includes('[kernel.kallsyms]')).join('\n');
  const p = perf(['report', '--stdio', '-g', 'none', '-i', file]);
  const k = kvmlens(['--host', 'report', '-i', file]);
  assert.is(k.status, 0, k.stderr);
  assert.ok(kernel(p.stdout).split('\n').length > 50, 'kernel entries to compare');
  assert.fixture(kernel(k.stdout), kernel(p.stdout));
});

test('report --json on call chains: children next to overhead, as the table', () => {
  if (why) return console.log(`skip: report --json on call chains: needs ${why}`);
  const file = recordWith(['-g']);
  const k = kvmlens(['--host', 'report', '-i', file, '--json']);
  assert.is(k.status, 0, k.stderr);
  const doc = JSON.parse(k.stdout);
  assert.is(doc.children, true);
  const entries = doc.events[0].entries;
  const table = kvmlens(['--host', 'report', '-i', file]).stdout.split('\n').filter((l) => /^\s+[\d.]+%/.test(l));
  assert.is(entries.length, table.length);
  entries.forEach((e: { children: number; overhead: number; childrenPeriod: number; period: number; text: string }, i: number) => {
    assert.ok(e.childrenPeriod >= e.period, e.text);
    const m = /^\s+([\d.]+)%\s+([\d.]+)%/.exec(table[i])!;
    assert.is(e.children.toFixed(2), m[1]);
    assert.is(e.overhead.toFixed(2), m[2]);
  });
  const flat = JSON.parse(kvmlens(['--host', 'report', '-i', file, '--json', '--no-children']).stdout);
  assert.is(flat.children, false);
  assert.ok(flat.events[0].entries.every((e: { samples: number; children?: number }) => e.samples > 0 && e.children === undefined));
});

test('report -g graph: says on stderr that trees are not printed, prints the -g none table', () => {
  if (why) return console.log(`skip: report -g graph: needs ${why}`);
  const file = recordWith(['-g']);
  const k = kvmlens(['--host', 'report', '-i', file, '-g', 'graph,0.5,caller']);
  assert.is(k.status, 0, k.stderr);
  assert.match(k.stderr, /call graph trees .* are not printed yet: showing -g none/);
  assert.is(k.stdout, kvmlens(['--host', 'report', '-i', file, '-g', 'none']).stdout);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
