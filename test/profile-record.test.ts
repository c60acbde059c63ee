// kvmlens record as a user runs it, judged by Debian's real perf: a known
// workload (test/fixtures/profile/burn.c) is recorded with --host (this
// machine has no KVM and no PMU, so cpu-clock samples host code), then
// `perf report --stdio` and `perf buildid-list` read the file without a
// warning, put the workload's function on top and list the right build-ids;
// `perf record` of the same workload is the yardstick.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'bin', 'kvmlens.js');
const isRoot = process.getuid?.() === 0;
const havePerf = spawnSync('perf', ['--version']).status === 0;
const haveCc = spawnSync('cc', ['--version']).status === 0;
const why = !isRoot ? 'root' : !havePerf ? 'perf' : !haveCc ? 'a C compiler (cc)' : '';
const skip = (name: string) => console.log(`skip: ${name}: needs ${why}`);

const dir = mkdtempSync(join(tmpdir(), 'kvmlens-profile-'));
const burn = join(dir, 'burn');
if (!why) {
  const cc = spawnSync('cc', ['-O1', '-g', '-Wl,--build-id', '-o', burn, join(root, 'test', 'fixtures', 'profile', 'burn.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build the workload: ${cc.stderr}`);
}

// kvmlens adds what it records to the build-id cache in $HOME/.debug, as
// perf record does: keep that inside the test's directory.
const home = join(dir, 'home');
mkdirSync(home, { recursive: true });

function kvmlens(args: string[], cwd = dir, env: NodeJS.ProcessEnv = { ...process.env, HOME: home }) {
  return spawnSync(process.execPath, [cli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

function perf(args: string[]) {
  return spawnSync('perf', args, { cwd: dir, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
}

interface Row { overhead: number; command: string; dso: string; mode: string; symbol: string }

/** The rows of `perf report --stdio` (the default sort: comm, dso, symbol). */
function reportRows(stdout: string): Row[] {
  const rows: Row[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$/.exec(line);
    if (m) rows.push({ overhead: Number(m[1]), command: m[2], dso: m[3], mode: m[4], symbol: m[5] });
  }
  return rows;
}

/** Samples in FILE, counted by perf script (perf report rounds to K). */
function sampleCount(file: string): number {
  const r = perf(['script', '-F', 'ip', '-i', file]);
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

/** `perf buildid-list` lines -> name => build-id */
function buildIds(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.trim().split('\n')) {
    const m = /^([0-9a-f]+) (.+)$/.exec(line);
    if (m) out.set(m[2], m[1]);
  }
  return out;
}

/** perf report and buildid-list on FILE: both clean (exit 0, nothing on stderr). */
function readWithPerf(file: string) {
  const report = perf(['report', '--stdio', '-i', file]);
  assert.is(report.status, 0, report.stderr);
  assert.is(report.stderr.trim(), '', `perf report warned: ${report.stderr}`);
  const ids = perf(['buildid-list', '-i', file]);
  assert.is(ids.status, 0, ids.stderr);
  assert.is(ids.stderr.trim(), '', `perf buildid-list warned: ${ids.stderr}`);
  return { rows: reportRows(report.stdout), samples: sampleCount(file), ids: buildIds(ids.stdout) };
}

function elfBuildId(path: string): string {
  return perf(['buildid-list', '-i', path]).stdout.trim();
}

test('record --host -- COMMAND: perf report puts the workload on top, buildid-list has the right ids', () => {
  if (why) return skip('record a command');
  const file = join(dir, 'cmd.data');
  const rec = kvmlens(['--host', 'record', '-o', file, '--', burn, '1']);
  assert.is(rec.status, 0, rec.stderr);
  assert.match(rec.stderr, /Captured and wrote [\d.]+ MB .*cmd\.data \(\d+ samples of (cycles|cpu-clock)\)/);
  const { rows, ids } = readWithPerf(file);
  assert.ok(rows.length > 0, 'perf report shows rows');
  assert.equal([rows[0].command, rows[0].dso, rows[0].mode, rows[0].symbol], ['burn', 'burn', '.', 'kvmlens_burn_loop']);
  assert.ok(rows[0].overhead > 80, `kvmlens_burn_loop has ${rows[0].overhead}%`);
  // Only the command was sampled (its own process, from its exec on).
  assert.ok(rows.every((r) => r.command === 'burn'), rows.map((r) => r.command).join(','));
  assert.is(ids.get(burn), elfBuildId(burn), 'the workload binary');
  // A kernel sample means the running kernel's build-id (from /sys/kernel/notes).
  if (rows.some((r) => r.dso === '[kernel.kallsyms]')) assert.is(ids.get('[kernel.kallsyms]'), perf(['buildid-list', '-k']).stdout.trim());
  for (const [name, id] of ids) {
    if (name.startsWith('/')) assert.is(id, elfBuildId(name), name);
  }
  // kvmlens' own report and buildid-list read it as perf does.
  const strip = (t: string) => t.split('\n').filter((l) => l.trim() !== '' && l.trim() !== '#' && !/Tip:/.test(l)).join('\n');
  const ours = kvmlens(['--host', 'report', '-i', file]);
  assert.is(ours.status, 0, ours.stderr);
  assert.is(strip(ours.stdout), strip(perf(['report', '--stdio', '-i', file]).stdout));
  const ourIds = kvmlens(['buildid-list', '-i', file]);
  assert.is(ourIds.stdout, perf(['buildid-list', '-i', file]).stdout);
  // A round ends after each drain pass (the drain thread wakes at least every
  // 100 ms), as perf record writes them: one second of samples is many rounds.
  const dump = spawnSync('perf', ['report', '-D', '-i', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const rounds = (dump.stdout.match(/PERF_RECORD_FINISHED_ROUND/g) ?? []).length;
  assert.ok(rounds > 3, `${rounds} FINISHED_ROUND records in a 1 s recording`);
});

test("record -o - writes perf pipe mode to stdout (the command's output goes to stderr): perf report, buildid-list and kvmlens read it", () => {
  if (why) return skip('record to a pipe');
  const piped = join(dir, 'piped.data');
  const rec = spawnSync('sh', ['-c', `'${process.execPath}' '${cli}' --host record -o - -- sh -c 'echo hello; exec "$0" 1' '${burn}' > '${piped}'`], {
    cwd: dir, env: { ...process.env, HOME: home }, encoding: 'utf8', timeout: 60_000,
  });
  assert.is(rec.status, 0, rec.stderr);
  assert.match(rec.stderr, /^hello$/m, "the command's stdout went to stderr");
  assert.match(rec.stderr, /Captured and wrote [\d.]+ MB to standard output/);
  const data = readFileSync(piped);
  assert.is(data.subarray(0, 8).toString('latin1'), 'PERFILE2');
  assert.is(data.readBigUInt64LE(8), 16n, 'the pipe-mode header');
  const fromStdin = (cmd: string, args: string[]) => spawnSync(cmd, args, { input: data, cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 });
  const report = fromStdin('perf', ['report', '--stdio', '-i', '-']);
  assert.is(report.status, 0, report.stderr);
  assert.is(report.stderr.trim(), '', `perf report warned: ${report.stderr}`);
  const rows = reportRows(report.stdout);
  assert.equal([rows[0].command, rows[0].dso, rows[0].symbol], ['burn', 'burn', 'kvmlens_burn_loop']);
  const ids = fromStdin('perf', ['buildid-list', '-i', '-']);
  assert.is(ids.status, 0, ids.stderr);
  assert.is(buildIds(ids.stdout).get(burn), elfBuildId(burn), 'HEADER_BUILD_ID records at the end of the stream');
  const ours = spawnSync(process.execPath, [cli, '--host', 'report', '-i', '-'], { input: data, cwd: dir, encoding: 'utf8', env: { ...process.env, HOME: home } });
  assert.is(ours.status, 0, ours.stderr);
  // perf 6.1 reading a pipe-mode recording (also once `perf inject` made it a
  // file) names a sample in the workload's .plt `_init`, where for a file
  // recording it says `clock_gettime@plt`, as kvmlens does for both: that row aside.
  const plt = (r: Row) => r.dso === 'burn' && (r.symbol === '_init' || r.symbol.endsWith('@plt'));
  assert.equal(reportRows(ours.stdout).filter((r) => !plt(r)), rows.filter((r) => !plt(r)));
});

test('buildid-list of a recording without HEADER_BUILD_ID (perf record -o -, -B) lists the DSOs with samples as perf kvm does', () => {
  if (why) return skip('buildid-list without build-ids');
  const piped = join(dir, 'perf-piped.data');
  writeFileSync(piped, spawnSync('perf', ['record', '-q', '-o', '-', '--', burn, '1'], { maxBuffer: 256 << 20 }).stdout);
  const noB = join(dir, 'perf-no-buildids.data');
  assert.is(perf(['record', '-q', '-B', '-o', noB, '--', burn, '1']).status, 0);
  for (const [file, asInput] of [[piped, '-'], [noB, noB]] as const) {
    for (const host of [['--host'], []]) {
      const input = readFileSync(file);
      const theirs = spawnSync('perf', ['kvm', ...host, 'buildid-list', '-i', asInput], { input, encoding: 'utf8' });
      const ours = spawnSync(process.execPath, [cli, ...host, 'buildid-list', '-i', asInput], { input, encoding: 'utf8', env: { ...process.env, HOME: home } });
      assert.is(ours.status, 0, ours.stderr);
      // perf names a vDSO without a build-id by the temporary file it copied it to, gone once perf exits.
      const vdso = theirs.stdout.replace(/\/tmp\/perf-vdso\.so-\w+$/gm, '[vdso]');
      assert.is(ours.stdout, vdso, `${file} ${host.join(' ')}`);
      if (host.length) assert.match(ours.stdout, new RegExp(`^ {41}${burn}$`, 'm'), 'a hit DSO with a blank build-id');
    }
  }
});

test('record and perf record of the same workload agree', () => {
  if (why) return skip('compare with perf record');
  const ours = join(dir, 'ours.data');
  const theirs = join(dir, 'theirs.data');
  const rec = kvmlens(['--host', 'record', '-o', ours, '--', burn, '1']);
  assert.is(rec.status, 0, rec.stderr);
  const prec = perf(['record', '-o', theirs, '--', burn, '1']);
  assert.is(prec.status, 0, prec.stderr);
  const a = readWithPerf(ours);
  const b = readWithPerf(theirs);
  assert.is(a.rows[0].symbol, b.rows[0].symbol);
  assert.is(a.rows[0].dso, b.rows[0].dso);
  assert.ok(Math.abs(a.rows[0].overhead - b.rows[0].overhead) < 5, `${a.rows[0].overhead}% vs ${b.rows[0].overhead}%`);
  // Same default rate (4000 Hz): the same period per sample (the number of
  // samples depends on how much CPU the workload got on a busy machine).
  const perSample = (f: string, n: number) => Number(/# Event count \(approx\.\): (\d+)/.exec(perf(['report', '--stdio', '-i', f]).stdout)![1]) / n;
  const pa = perSample(ours, a.samples);
  const pb = perSample(theirs, b.samples);
  assert.ok(Math.abs(pa / pb - 1) < 0.1, `period per sample ${pa} vs perf's ${pb}`);
  assert.ok(a.samples > 500 && b.samples > 500, `samples ${a.samples} vs perf's ${b.samples}`);
  // Every DSO both list carries the same build-id; the kernel and the workload are in both.
  for (const [name, id] of a.ids) if (b.ids.has(name)) assert.is(id, b.ids.get(name), name);
  // The workload is hit in both; the kernel only when this run's samples
  // happened to fall there (build-ids are of hit DSOs, as perf's), so ours
  // must list it exactly when our own report has a kernel row.
  if (b.ids.has(burn)) assert.ok(a.ids.has(burn), `${burn} missing from ours: ${[...a.ids.keys()]}`);
  const kernelHit = a.rows.some((r) => r.dso === '[kernel.kallsyms]');
  assert.is(a.ids.has('[kernel.kallsyms]'), kernelHit, `[kernel.kallsyms] in our build-ids vs kernel rows in our report`);
  // The header perf report --header shows: the same machine facts, and the sample times.
  const header = (f: string) => perf(['report', '--header-only', '-i', f]).stdout;
  for (const field of ['hostname', 'os release', 'arch', 'nrcpus online', 'nrcpus avail', 'cpudesc', 'cpuid', 'total memory']) {
    const line = (h: string) => new RegExp(`^# ${field} : .*$`, 'm').exec(h)?.[0];
    assert.ok(line(header(ours)), `${field} in our header`);
    assert.is(line(header(ours)), line(header(theirs)), field);
  }
  assert.match(header(ours), /^# sample duration : +[\d.]+ ms$/m);
  // The event as perf writes it: same type, rate and side-band flags.
  const ev = (f: string) => perf(['evlist', '-v', '-i', f]).stdout;
  for (const field of ['type: 1', 'sample_freq }: 4000', 'mmap: 1', 'comm: 1', 'task: 1', 'mmap2: 1', 'comm_exec: 1', 'enable_on_exec: 1']) {
    assert.ok(ev(ours).includes(field), `${field} in ${ev(ours)}`);
    assert.ok(ev(theirs).includes(field), `perf has ${field}`);
  }
});

test('--host/--guest set exclude_host/exclude_guest and the default file as perf kvm', () => {
  if (why) return skip('host/guest flags');
  const cases: { args: string[]; file: string; excludeHost: boolean; excludeGuest: boolean }[] = [
    { args: [], file: 'perf.data.guest', excludeHost: true, excludeGuest: false },
    { args: ['--guest'], file: 'perf.data.guest', excludeHost: true, excludeGuest: false },
    { args: ['--host'], file: 'perf.data.kvm', excludeHost: false, excludeGuest: false },
    { args: ['--host', '--guest'], file: 'perf.data.kvm', excludeHost: false, excludeGuest: false },
    { args: ['--host', '--no-guest'], file: 'perf.data.host', excludeHost: false, excludeGuest: true },
  ];
  for (const c of cases) {
    const cwd = mkdtempSync(join(dir, 'hg-'));
    const rec = kvmlens([...c.args, 'record', '--', 'true'], cwd);
    assert.is(rec.status, 0, rec.stderr);
    assert.ok(existsSync(join(cwd, c.file)), `${c.args.join(' ')} -> ${c.file}`);
    const ev = spawnSync('perf', ['evlist', '-v', '-i', join(cwd, c.file)], { encoding: 'utf8' }).stdout;
    assert.is(/exclude_host: 1/.test(ev), c.excludeHost, `${c.args.join(' ')}: ${ev}`);
    assert.is(/exclude_guest: 1/.test(ev), c.excludeGuest, `${c.args.join(' ')}: ${ev}`);
    if (c.excludeHost) assert.match(ev, /^cpu-clock:G|^cycles:G/);
  }
});

async function recordUntilSignal(args: string[], signal: NodeJS.Signals, during: () => Promise<void>) {
  const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const started = Date.now();
  while (!/recording; press Ctrl-C/.test(err) && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
  // Node names its main thread (Node 24: "MainThread"), so ask the kernel.
  let comm = '';
  try { comm = readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim(); } catch { /* exited */ }
  await during();
  child.kill(signal);
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(-1);
    }, 10_000);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  return { code, stderr: err, comm };
}

function runBurn(secs: number) {
  return new Promise<void>((resolve) => spawn(burn, [String(secs)], { stdio: 'ignore' }).on('exit', () => resolve()));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`record -a stops cleanly on ${signal} (stdin at EOF) and the file reads`, async () => {
    if (why) return skip('record -a');
    const file = join(dir, `a-${signal}.data`);
    const r = await recordUntilSignal(['--host', 'record', '-a', '-o', file], signal, () => runBurn(0.6));
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /Captured and wrote/);
    const { rows, ids } = readWithPerf(file);
    const top = rows.find((x) => x.command === 'burn');
    assert.ok(top, 'the workload is in the system-wide profile');
    assert.is(top!.symbol, 'kvmlens_burn_loop');
    assert.is(ids.get(burn), elfBuildId(burn));
    // Processes that ran before recording started resolve too (synthesized from /proc).
    assert.ok(rows.some((x) => x.command === r.comm && x.dso !== '[unknown]'), `kvmlens itself (${r.comm}), started before`);
  });
}

test('record -p PID samples a running process, named and resolved from /proc', async () => {
  if (why) return skip('record -p');
  const file = join(dir, 'pid.data');
  const workload = spawn(burn, ['4'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 200));
  const r = await recordUntilSignal(['--host', 'record', '-p', String(workload.pid), '-o', file], 'SIGINT', () => new Promise((res) => setTimeout(res, 800)));
  workload.kill();
  assert.is(r.code, 0, r.stderr);
  const { rows } = readWithPerf(file);
  assert.ok(rows.length > 0);
  assert.equal([rows[0].command, rows[0].symbol], ['burn', 'kvmlens_burn_loop']);
  assert.ok(rows.every((x) => x.command === 'burn'));
});

test('record -p ends by itself when the process exits, as perf record', () => {
  if (why) return skip('record -p exit');
  const file = join(dir, 'pid-exit.data');
  const sh = spawnSync('sh', ['-c', `${burn} 3 & ${process.execPath} ${cli} --host record -p $! -o ${file}`], {
    cwd: dir, encoding: 'utf8', timeout: 20_000, env: { ...process.env, HOME: home },
  });
  assert.is(sh.status, 0, sh.stderr);
  assert.match(sh.stderr, /Captured and wrote/);
  assert.is(readWithPerf(file).rows[0]?.symbol, 'kvmlens_burn_loop');
});

test('--guestmount: the guest kernel map is synthesized exactly as perf kvm record writes it', () => {
  if (why) return skip('guestmount');
  // A guest root as sshfs would show it: DIR/<qemu pid>/proc/kallsyms and sys/kernel/notes.
  const gm = join(dir, 'guestmount');
  mkdirSync(join(gm, '4242', 'proc'), { recursive: true });
  mkdirSync(join(gm, '4242', 'sys', 'kernel'), { recursive: true });
  // (proc and sysfs files report size 0: copy them by reading.)
  writeFileSync(join(gm, '4242', 'proc', 'kallsyms'), readFileSync('/proc/kallsyms'));
  writeFileSync(join(gm, '4242', 'sys', 'kernel', 'notes'), readFileSync('/sys/kernel/notes'));
  const ours = join(dir, 'gm-ours.data');
  const theirs = join(dir, 'gm-theirs.data');
  assert.is(kvmlens(['--host', `--guestmount=${gm}`, 'record', '-o', ours, '--', 'true']).status, 0);
  assert.is(perf(['kvm', '--host', `--guestmount=${gm}`, 'record', '-o', theirs, '--', 'true']).status, 0);
  const mmaps = (f: string) =>
    perf(['script', '-D', '-i', f]).stdout.split('\n')
      .filter((l) => l.includes('PERF_RECORD_MMAP ') && l.includes('kallsyms'))
      .map((l) => l.slice(l.indexOf('PERF_RECORD_MMAP')));
  const a = mmaps(ours);
  assert.equal(a, mmaps(theirs));
  assert.ok(a.some((l) => l.includes('4242/0:') && l.includes('[guest.kernel.kallsyms.4242]_text')), a.join('\n'));
  // Not sampling guests (--no-guest): no guest maps, as perf.
  const hostOnly = join(dir, 'gm-host.data');
  const perfHostOnly = join(dir, 'gm-host-perf.data');
  assert.is(kvmlens(['--host', '--no-guest', `--guestmount=${gm}`, 'record', '-o', hostOnly, '--', 'true']).status, 0);
  assert.is(perf(['kvm', '--host', '--no-guest', `--guestmount=${gm}`, 'record', '-o', perfHostOnly, '--', 'true']).status, 0);
  assert.equal(mmaps(hostOnly), mmaps(perfHostOnly));
  assert.is(mmaps(hostOnly).length, 1);
});

test('the build-id cache keeps what was hit, as perf record does: a rebuilt binary still resolves', () => {
  if (why) return skip('build-id cache');
  const work = mkdtempSync(join(dir, 'cache-'));
  const bin = join(work, 'burn');
  const src = join(root, 'test', 'fixtures', 'profile', 'burn.c');
  assert.is(spawnSync('cc', ['-O1', '-o', bin, src]).status, 0);
  const id = elfBuildId(bin);
  const cached = join(work, 'home-cached');
  const bare = join(work, 'home-bare');
  mkdirSync(cached);
  mkdirSync(bare);
  const withCache = join(work, 'with.data');
  const withoutCache = join(work, 'without.data');
  assert.is(kvmlens(['--host', 'record', '-o', withCache, '--', bin, '0.5'], work, { ...process.env, HOME: cached }).status, 0);
  assert.is(kvmlens(['--host', 'record', '-N', '-o', withoutCache, '--', bin, '0.5'], work, { ...process.env, HOME: bare }).status, 0);
  // perf's layout: PATH/BUILDID/elf, [kernel.kallsyms]/BUILDID/kallsyms, .build-id/xx/rest -> ../../PATH/BUILDID
  assert.ok(existsSync(join(cached, '.debug', bin.slice(1), id, 'elf')));
  assert.ok(existsSync(join(cached, '.debug', '.build-id', id.slice(0, 2), id.slice(2), 'elf')));
  assert.not.ok(existsSync(join(bare, '.debug')), '-N adds nothing');
  const listed = spawnSync('perf', ['buildid-cache', '-l'], { encoding: 'utf8', env: { ...process.env, HOME: cached } }).stdout;
  assert.match(listed, new RegExp(`^${id} ${bin}$`, 'm'));
  // Rebuild the binary in place with other code: only the cache has the recorded one.
  const other = join(work, 'other.c');
  writeFileSync(other, readFileSync(src, 'utf8').replace(/kvmlens_burn_loop/g, 'another_loop').replace('x * 6364136223846793005UL', 'x * 3UL'));
  assert.is(spawnSync('cc', ['-O1', '-o', bin, other]).status, 0);
  assert.is.not(elfBuildId(bin), id);
  const report = (file: string, h: string) => reportRows(spawnSync('perf', ['report', '--stdio', '-i', file], { encoding: 'utf8', env: { ...process.env, HOME: h } }).stdout);
  assert.is(report(withCache, cached)[0].symbol, 'kvmlens_burn_loop');
  assert.match(report(withoutCache, bare)[0].symbol, /^0x[0-9a-f]+$/, 'without the cache perf cannot name it');
  const ours = kvmlens(['--host', 'report', '-i', withCache], work, { ...process.env, HOME: cached });
  assert.ok(reportRows(ours.stdout)[0]?.symbol === 'kvmlens_burn_loop', ours.stdout + ours.stderr);
});

test('an unprivileged user records their own command in user space, and gets the fix for -a', () => {
  if (why) return skip('unprivileged record');
  const paranoid = readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim();
  if (paranoid !== '2' || spawnSync('setpriv', ['--version']).status !== 0) return console.log(`skip: unprivileged record: needs setpriv and perf_event_paranoid=2 (it is ${paranoid})`);
  const work = mkdtempSync(join(tmpdir(), 'kvmlens-nobody-'));
  chmodSync(work, 0o777);
  chmodSync(dir, 0o755);
  const asNobody = (args: string[]) =>
    spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${work}`, process.execPath, cli, ...args], { cwd: work, encoding: 'utf8', timeout: 60_000 });
  const file = join(work, 'user.data');
  const rec = asNobody(['--host', 'record', '-o', file, '--', burn, '0.5']);
  assert.is(rec.status, 0, rec.stderr);
  assert.match(rec.stderr, /kernel samples are not collected: kernel\.perf_event_paranoid=2/);
  assert.match(rec.stderr, /samples of cpu-clock:u\)/);
  const report = perf(['report', '-f', '--stdio', '-i', file]);
  const rows = reportRows(report.stdout);
  assert.is(rows[0]?.symbol, 'kvmlens_burn_loop', report.stdout + report.stderr);
  assert.ok(rows.every((r) => r.mode !== 'k'), 'no kernel samples');
  const wide = asNobody(['--host', 'record', '-a', '-o', join(work, 'a.data'), '--', 'true']);
  assert.is(wide.status, 1);
  assert.match(wide.stderr, /permission denied \(kernel\.perf_event_paranoid=2\): run as root or grant CAP_PERFMON/);
  assert.is(wide.stderr.trim().split('\n').length, 1, wide.stderr);
});

test('usage errors are one line', () => {
  const bad = kvmlens(['record', '-F', 'fast', '--', 'true']);
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /-F expects a positive integer/);
  if (why) return;
  const gone = kvmlens(['--host', 'record', '-p', '999999999']);
  assert.is.not(gone.status, 0);
  assert.match(gone.stderr, /no such process: 999999999/);
  assert.is(gone.stderr.trim().split('\n').length, 1, gone.stderr);
});

// -e EVENT, as perf kvm record passes it to perf record.

interface EvAttr { type: string; config: string; period: string; freq: string; sampleType: string; exclude: string }

/**
 * `perf evlist -v` of FILE: name -> the attr settings that matter. In
 * sample_type, ID/IDENTIFIER (both tell the event of a sample; kvmlens
 * always writes IDENTIFIER) and CPU (kvmlens always records it) are left
 * aside; perf's -a tracking event dummy:HG (kvmlens tracks on the first
 * event instead) is skipped.
 */
function evAttrs(file: string): Map<string, EvAttr> {
  const r = perf(['evlist', '-v', '-i', file]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), '', `perf evlist warned: ${r.stderr}`);
  const out = new Map<string, EvAttr>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+): (type: .*)$/.exec(line);
    if (!m || m[1] === 'dummy:HG') continue;
    const get = (k: string) => new RegExp(`(?:^|, )${k}: ([^,]+)`).exec(m[2])?.[1] ?? '0';
    const sampleType = get('sample_type').split('|').filter((b) => !['ID', 'IDENTIFIER', 'CPU'].includes(b)).sort().join('|');
    const exclude = ['exclude_user', 'exclude_kernel', 'exclude_hv', 'exclude_host', 'exclude_guest'].map((k) => `${k}=${get(k)}`).join(',');
    out.set(m[1], { type: get('type'), config: get('config'), period: /\{ sample_period, sample_freq \}: (\d+)/.exec(m[2])?.[1] ?? '0', freq: get('freq'), sampleType, exclude });
  }
  return out;
}

/** perf script and perf report read FILE cleanly; perf script's output. */
function scriptAndReportClean(file: string): string {
  const script = perf(['script', '-i', file]);
  assert.is(script.status, 0, script.stderr);
  assert.is(script.stderr.trim(), '', `perf script warned: ${script.stderr}`);
  const report = perf(['report', '--stdio', '-i', file]);
  assert.is(report.status, 0, report.stderr);
  assert.is(report.stderr.trim(), '', `perf report warned: ${report.stderr}`);
  return script.stdout;
}

const stripReport = (t: string) => t.split('\n').filter((l) => l.trim() !== '' && l.trim() !== '#' && !/Tip:/.test(l)).join('\n');

test('record -e cpu-clock -e page-faults -- COMMAND: two attrs as perf kvm --host record writes them; report equals perf report', () => {
  if (why) return skip('record two events');
  const ours = join(dir, 'two.data');
  const theirs = join(dir, 'two-perf.data');
  const rec = kvmlens(['--host', 'record', '-o', ours, '-e', 'cpu-clock', '-e', 'page-faults', '--', burn, '0.5']);
  assert.is(rec.status, 0, rec.stderr);
  assert.match(rec.stderr, /samples of cpu-clock, page-faults\)/);
  const prec = perf(['kvm', '--host', 'record', '-o', theirs, '-e', 'cpu-clock', '-e', 'page-faults', '--', burn, '0.5']);
  assert.is(prec.status, 0, prec.stderr);
  const a = evAttrs(ours);
  const b = evAttrs(theirs);
  assert.equal([...a.keys()], ['cpu-clock', 'page-faults']);
  assert.equal([...a.keys()], [...b.keys()]);
  for (const [name, attr] of b) assert.equal(a.get(name), attr, name);
  const script = scriptAndReportClean(ours);
  assert.match(script, /cpu-clock/);
  assert.match(script, /page-faults/);
  // One section per event, as perf report prints them.
  const report = perf(['report', '--stdio', '-i', ours]).stdout;
  assert.match(report, /of event 'cpu-clock'/);
  assert.match(report, /of event 'page-faults'/);
  const mine = kvmlens(['--host', 'report', '-i', ours]);
  assert.is(mine.status, 0, mine.stderr);
  assert.is(stripReport(mine.stdout), stripReport(report));
});

test('record -e sched:sched_switch -a: a tracepoint sampled as perf records it, with its format in TRACING_DATA', () => {
  if (why) return skip('record a tracepoint');
  if (!existsSync('/sys/kernel/tracing/events/sched/sched_switch/id')) return console.log('skip: record a tracepoint: needs tracefs with sched:sched_switch');
  const ours = join(dir, 'tp.data');
  const theirs = join(dir, 'tp-perf.data');
  const rec = kvmlens(['--host', 'record', '-o', ours, '-e', 'sched:sched_switch', '-a', '--', 'sleep', '0.2']);
  assert.is(rec.status, 0, rec.stderr);
  const prec = perf(['kvm', '--host', 'record', '-o', theirs, '-e', 'sched:sched_switch', '-a', '--', 'sleep', '0.2']);
  assert.is(prec.status, 0, prec.stderr);
  const a = evAttrs(ours);
  const b = evAttrs(theirs);
  assert.equal([...a.keys()], ['sched:sched_switch']);
  assert.equal([...a.keys()], [...b.keys()]);
  assert.equal(a.get('sched:sched_switch'), b.get('sched:sched_switch'));
  assert.is(a.get('sched:sched_switch')!.period, '1');
  assert.match(a.get('sched:sched_switch')!.sampleType, /RAW/);
  // perf script decodes every sample's raw payload with the recorded format.
  const script = scriptAndReportClean(ours);
  const lines = script.split('\n').filter((l) => l.trim());
  assert.ok(lines.length > 10, `${lines.length} sched_switch samples`);
  for (const l of lines) assert.match(l, /sched:sched_switch: prev_comm=.* prev_pid=\d+ .*==> next_comm=.* next_pid=\d+/);
  // perf report's default sort for a tracepoint-only file is `trace`, which
  // kvmlens report does not have: compare with the comm,dso,sym sort.
  const report = perf(['report', '--stdio', '-s', 'comm,dso,sym', '-i', ours]);
  assert.is(report.stderr.trim(), '', report.stderr);
  const mine = kvmlens(['--host', 'report', '-s', 'comm,dso,sym', '-i', ours]);
  assert.is(mine.status, 0, mine.stderr);
  assert.is(stripReport(mine.stdout), stripReport(report.stdout));
});

test('-e with :u/:k and commas sets exclude_kernel/exclude_user as perf', () => {
  if (why) return skip('event modifiers');
  const ours = join(dir, 'mods.data');
  const theirs = join(dir, 'mods-perf.data');
  const rec = kvmlens(['--host', 'record', '-o', ours, '-e', 'cpu-clock:u,page-faults:k', '-e', 'cs', '--', 'true']);
  assert.is(rec.status, 0, rec.stderr);
  const prec = perf(['kvm', '--host', 'record', '-o', theirs, '-e', 'cpu-clock:u,page-faults:k', '-e', 'cs', '--', 'true']);
  assert.is(prec.status, 0, prec.stderr);
  const a = evAttrs(ours);
  const b = evAttrs(theirs);
  assert.equal([...a.keys()], ['cpu-clock:u', 'page-faults:k', 'cs']);
  assert.equal([...a.keys()], [...b.keys()]);
  for (const [name, attr] of b) assert.equal(a.get(name), attr, name);
});

test('-e with an event this machine cannot open, or an unknown name, is a one-line error naming it', () => {
  if (why) return skip('event errors');
  const hwOpens = spawnSync('perf', ['stat', '-e', 'instructions', '-x,', 'true'], { encoding: 'utf8' }).stderr.includes('<not supported>') === false;
  for (const ev of ['cycles', 'instructions']) {
    if (hwOpens) break; // a machine with a PMU opens these
    const r = kvmlens(['--host', 'record', '-o', join(dir, 'hw.data'), '-e', ev, '--', 'true']);
    assert.is.not(r.status, 0, `${ev} opened`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`the ${ev} event is not supported`));
  }
  for (const ev of ['no-such-event', 'sched:no_such_tracepoint', 'cpu-clock:z']) {
    const r = kvmlens(['--host', 'record', '-o', join(dir, 'bad.data'), '-e', ev, '--', 'true']);
    assert.is.not(r.status, 0, `${ev} accepted`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`event syntax error: '${ev}'`));
  }
});

test('-e under --host/--guest/--no-guest: names and exclude bits as perf kvm record gives them', () => {
  if (why) return skip('-e with host/guest flags');
  const events = 'cpu-clock:u,cpu-clock:k,cpu-clock:uk,page-faults';
  for (const flags of [[], ['--guest'], ['--host'], ['--host', '--no-guest']]) {
    const ours = join(dir, 'hg.data');
    const theirs = join(dir, 'hg-perf.data');
    const rec = kvmlens([...flags, 'record', '-o', ours, '-e', events, '--', 'true']);
    assert.is(rec.status, 0, rec.stderr);
    const prec = perf(['kvm', ...flags, 'record', '-o', theirs, '-e', events, '--', 'true']);
    assert.is(prec.status, 0, prec.stderr);
    const a = evAttrs(ours);
    const b = evAttrs(theirs);
    assert.equal([...a.keys()], [...b.keys()], flags.join(' '));
    for (const [name, attr] of b) assert.equal(a.get(name), attr, `${flags.join(' ')} ${name}`);
  }
});

test('record -o - to a slow reader (a full, non-blocking pipe) waits for it: perf script reads every record', () => {
  if (why) return skip('record to a slow pipe');
  // Node's standard output pipe is non-blocking; the writer must wait on
  // EAGAIN, not drop data ("writing to standard output failed" / "bad event header size").
  for (const ev of [['-e', 'sched:sched_switch'], []]) {
    const r = spawnSync('sh', ['-c', `'${process.execPath}' '${cli}' --host record -o - ${ev.join(' ')} -a -- sleep 0.5 | (sleep 1.5; perf script -i - > /dev/null)`], {
      cwd: dir, env: { ...process.env, HOME: home }, encoding: 'utf8', timeout: 60_000,
    });
    assert.is(r.status, 0, r.stderr);
    assert.not.match(r.stderr, /failed|bad event|Error/, r.stderr);
    assert.match(r.stderr, /Captured and wrote [\d.]+ MB to standard output/);
  }
});

test('-F and -c apply to -e tracepoints as perf applies them (period 1 otherwise)', () => {
  if (why) return skip('-F/-c with tracepoints');
  if (!existsSync('/sys/kernel/tracing/events/sched/sched_switch/id')) return console.log('skip: -F/-c with tracepoints: needs tracefs with sched:sched_switch');
  for (const rate of [['-F', '100'], ['-c', '7'], []]) {
    const ours = join(dir, 'rate.data');
    const theirs = join(dir, 'rate-perf.data');
    const args = [...rate, '-e', 'sched:sched_switch,cpu-clock', '-a', '--', 'sleep', '0.1'];
    const rec = kvmlens(['--host', 'record', '-o', ours, ...args]);
    assert.is(rec.status, 0, rec.stderr);
    const prec = perf(['kvm', '--host', 'record', '-o', theirs, ...args]);
    assert.is(prec.status, 0, prec.stderr);
    const a = evAttrs(ours);
    const b = evAttrs(theirs);
    assert.equal([...a.keys()], [...b.keys()], rate.join(' '));
    // kvmlens samples always carry PERIOD; perf leaves it out for a fixed
    // -c period on non-tracepoint events (the attr's period is the same).
    const noPeriod = (x: EvAttr | undefined) => x && { ...x, sampleType: x.sampleType.split('|').filter((t) => rate[0] !== '-c' || t !== 'PERIOD').join('|') };
    for (const [name, attr] of b) assert.equal(noPeriod(a.get(name)), noPeriod(attr), `${rate.join(' ')} ${name}`);
  }
});

test.run();
