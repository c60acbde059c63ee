// The command line as a user meets it: help, perf's argument forms, and
// one-line errors for files that are missing or not perf.data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeArgv } from '../src/cli/argv.ts';
import { defaultInputFile } from '../src/cli/global-options.ts';
import { plainReportInput } from '../src/cli/early-report.ts';

const root = join(import.meta.dirname, '..');
function kvmlens(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'kvmlens.js'), ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('perf subcommand prefixes are accepted', () => {
  assert.equal(normalizeArgv(['stat', 'rep', '--event=mmio']), ['stat', 'report', '--event=mmio']);
  assert.equal(normalizeArgv(['-i', 'f.data', 'stat', 'repo']), ['-i', 'f.data', 'stat', 'report']);
  assert.equal(normalizeArgv(['stat', 'rec', '-a']), ['stat', 'record', '-a']);
  assert.equal(normalizeArgv(['--host', 'buildid']), ['--host', 'buildid-list']);
  assert.equal(normalizeArgv(['stat', 'live']), ['stat', 'live']);
});

test('default file names follow the perf kvm man page table', () => {
  assert.is(defaultInputFile({}), 'perf.data.guest');
  assert.is(defaultInputFile({ guest: true }), 'perf.data.guest');
  assert.is(defaultInputFile({ host: true }), 'perf.data.kvm');
  assert.is(defaultInputFile({ host: true, guest: true }), 'perf.data.kvm');
  assert.is(defaultInputFile({ host: true, guest: false }), 'perf.data.host');
});

test('--help on every command', () => {
  for (const args of [['--help'], ['stat', '--help'], ['stat', 'report', '--help']]) {
    const r = kvmlens(args);
    assert.is(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Usage: kvmlens/);
  }
  assert.match(kvmlens(['stat', 'report', '--help']).stdout, /--event/);
});

test('a missing input file is one line naming it, exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-cli-'));
  const r = kvmlens(['stat', 'report'], dir);
  assert.is(r.code, 1);
  assert.match(r.stderr, /perf\.data\.guest/);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('a file that is not perf.data is one line naming file and offset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-cli-'));
  const file = join(dir, 'junk.data');
  writeFileSync(file, 'this is not a perf.data file at all, just text\n');
  const r = kvmlens(['-i', file, 'stat', 'report']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /junk\.data/);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('unknown options and event names are usage errors', () => {
  const r = kvmlens(['stat', 'report', '--event=bogus']);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /bogus/);
});

test('stat report reads its file while the CLI loads, and only keeps that read when the input matches', () => {
  const fixture = join(root, 'test', 'fixtures', 'vm', 'perf-kvm-amd.data');
  assert.is(plainReportInput(['stat', 'report', '-i', fixture]), fixture);
  assert.is(plainReportInput(['-i', fixture, 'stat', 'rep', '--json']), fixture);
  assert.is(plainReportInput(['stat', 'report']), 'perf.data.guest');
  for (const args of [['stat', 'report', '-i', 'a', '-i', 'b'], ['stat', 'report', '--help', '-i', 'a'], ['--host', 'stat', 'report'], ['stat', 'record']]) {
    assert.is(plainReportInput(args), undefined, args.join(' '));
  }
  // Same table with the input given before `stat`, after `report`, or as --input=.
  const tables = [['-i', fixture, 'stat', 'report'], ['stat', 'report', '-i', fixture], ['stat', 'report', `--input=${fixture}`]].map((a) => kvmlens(a));
  for (const t of tables) {
    assert.is(t.code, 0, t.stderr);
    assert.is(t.stdout, tables[0].stdout);
  }
  assert.match(tables[0].stdout, /Total Samples:/);
  // A usage error after an early read: the error, its exit code, no table.
  const bad = kvmlens(['stat', 'report', '-i', fixture, '--event=bogus']);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /bogus/);
  assert.is(bad.stdout, '');
  const missing = kvmlens(['stat', 'report', '-i', join(root, 'no-such.data')]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /no-such\.data: no such file/);
});

test.run();
