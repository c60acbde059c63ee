// The native seam as the CLI and the exporter use it: one query returns
// typed columns; groups merge exactly; exited VMs can be forgotten; errors
// arrive as KvmlensError with a code and a byte offset.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvmlensError } from '../src/core/errors.ts';
import { analyzeFile, startReplay } from '../src/core/native.ts';

const fixtures = join(import.meta.dirname, 'fixtures');
const twoVms = join(fixtures, 'kvm-intel-sample.data');

const total = (c: { count: Float64Array }) => c.count.reduce((a, b) => a + b, 0);

test('per-VM and per-vCPU groups add up to the per-key table', async () => {
  const s = await analyzeFile(twoVms);
  const byKey = s.query({ analysis: 'vmexit' });
  const byVm = s.query({ analysis: 'vmexit', groupBy: 'vm' });
  const byVcpu = s.query({ analysis: 'vmexit', groupBy: 'vcpu' });
  assert.ok(byKey.length > 0);
  assert.is(total(byVm), total(byKey));
  assert.is(total(byVcpu), total(byKey));
  assert.equal([...new Set(byVm.pid)].sort(), [4000, 4100]);
  assert.is(s.info().isa, 'VMX');
  for (let i = 0; i < byKey.length; i++) {
    assert.ok(byKey.minNs[i] <= byKey.p50Ns[i] && byKey.p50Ns[i] <= byKey.maxNs[i]);
  }
});

test('forgetPids drops one VM and leaves the other exactly as it was', async () => {
  const s = await analyzeFile(twoVms);
  const before = s.query({ analysis: 'all', groupBy: 'vcpu', pids: [4100] });
  s.forgetPids([4000]);
  const after = s.query({ analysis: 'all', groupBy: 'vcpu' });
  assert.equal([...new Set(after.pid)], [4100]);
  assert.equal(Array.from(after.count), Array.from(before.count));
  assert.equal(Array.from(after.sumNs), Array.from(before.sumNs));
});

test('a replay at full speed ends with the same numbers as the report', async () => {
  const file = join(fixtures, 'vm', 'perf-kvm-amd.data');
  const replay = startReplay(file, { speed: 0 });
  for (let i = 0; i < 100 && replay.running; i++) await new Promise((r) => setTimeout(r, 20));
  assert.is(replay.running, false);
  const report = await analyzeFile(file);
  assert.equal(Array.from(replay.query().count), Array.from(report.query().count));
  await replay.stop();
});

test('a replay without the moments (as the exporter runs): the same counts, sums, extremes and buckets; mean 0', async () => {
  const file = join(fixtures, 'vm', 'perf-kvm-amd.data');
  const replay = startReplay(file, { speed: 0, moments: false });
  for (let i = 0; i < 100 && replay.running; i++) await new Promise((r) => setTimeout(r, 20));
  assert.is(replay.running, false);
  const report = await analyzeFile(file);
  const q = { analysis: 'all', groupBy: 'vcpu', buckets: true } as const;
  const lean = replay.query(q);
  const full = report.query(q);
  assert.ok(lean.length > 0);
  for (const k of ['count', 'sumNs', 'minNs', 'maxNs', 'p50Ns', 'p99Ns'] as const) assert.equal(Array.from(lean[k]), Array.from(full[k]), k);
  assert.equal(Array.from(lean.buckets!.count), Array.from(full.buckets!.count));
  assert.ok(lean.meanNs.every((m) => m === 0) && full.meanNs.some((m) => m > 0));
  await replay.stop();
});

test('a damaged file: KvmlensError with code EPARSE, the file and the offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-seam-'));
  const bytes = readFileSync(twoVms);
  const bad = Buffer.from(bytes);
  bad.writeBigUInt64LE(BigInt(bytes.length) * 2n, 48); // data section size past the end
  const file = join(dir, 'bad.data');
  writeFileSync(file, bad);
  try {
    await analyzeFile(file);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, KvmlensError);
    const e = err as KvmlensError;
    assert.is(e.code, 'EPARSE');
    assert.is(e.file, file);
    assert.is(e.offset, 48);
    assert.match(e.describe(), /bad\.data: offset 48: data section/);
  }
});

test('a truncated file reports what came before the damage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-seam-'));
  const bytes = readFileSync(twoVms);
  const dataOff = Number(bytes.readBigUInt64LE(40));
  const dataSize = Number(bytes.readBigUInt64LE(48));
  // Keep the header and features consistent, but break one record's size in the middle.
  const bad = Buffer.from(bytes);
  let p = dataOff;
  for (let n = 0; n < 500; n++) p += bad.readUInt16LE(p + 6);
  bad.writeUInt16LE(4, p + 6);
  const file = join(dir, 'cut.data');
  writeFileSync(file, bad);
  const s = await analyzeFile(file);
  const info = s.info();
  assert.ok(info.dataError, 'the damage is reported');
  assert.is(info.dataError!.offset, p);
  assert.ok(total(s.query({ analysis: 'vmexit' })) > 0, 'what came before is kept');
  void dataSize;
});

test.run();
