// OTLP push: the exporter's MetricProducer sends base-2 exponential
// histograms built from the native buckets. A loopback receiver takes the
// OTLP/HTTP protobuf request; it is decoded by field numbers of the official
// schema (opentelemetry-proto: collector/metrics/v1, metrics/v1, common/v1)
// and compared with the session's numbers.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeFile } from '../src/core/native.ts';
import { defaultExporterOptions, startExporter } from '../src/exporter/exporter.ts';
import { sessionSource } from '../src/exporter/source.ts';
import { waitFor } from './support/prometheus.ts';

// --- protobuf wire format (just what the OTLP messages below use) ---
type Field = { wt: number; int?: bigint; bytes?: Buffer };
type Msg = Map<number, Field[]>;

function varint(buf: Buffer, pos: { p: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos.p++];
    result |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return result;
    shift += 7n;
  }
}

function decode(buf: Buffer): Msg {
  const out: Msg = new Map();
  const pos = { p: 0 };
  while (pos.p < buf.length) {
    const tag = Number(varint(buf, pos));
    const field = tag >>> 3;
    const wt = tag & 7;
    let f: Field;
    if (wt === 0) f = { wt, int: varint(buf, pos) };
    else if (wt === 1) { f = { wt, bytes: buf.subarray(pos.p, pos.p + 8) }; pos.p += 8; }
    else if (wt === 5) { f = { wt, bytes: buf.subarray(pos.p, pos.p + 4) }; pos.p += 4; }
    else if (wt === 2) { const n = Number(varint(buf, pos)); f = { wt, bytes: buf.subarray(pos.p, pos.p + n) }; pos.p += n; }
    else throw new Error(`wire type ${wt}`);
    out.set(field, [...(out.get(field) ?? []), f]);
  }
  return out;
}

const msgs = (m: Msg, n: number) => (m.get(n) ?? []).map((f) => decode(f.bytes!));
const str = (m: Msg, n: number) => m.get(n)?.[0]?.bytes?.toString('utf8') ?? '';
const fixed64 = (m: Msg, n: number) => Number(m.get(n)?.[0]?.bytes?.readBigUInt64LE(0) ?? 0n);
const double = (m: Msg, n: number) => m.get(n)?.[0]?.bytes?.readDoubleLE(0) ?? 0;
const zigzag = (v: bigint) => Number((v >> 1n) ^ -(v & 1n));
const sint32 = (m: Msg, n: number) => zigzag(m.get(n)?.[0]?.int ?? 0n);

/** Packed repeated uint64 (or unpacked, both are legal). */
function uint64s(m: Msg, n: number): number[] {
  const out: number[] = [];
  for (const f of m.get(n) ?? []) {
    if (f.wt === 0) out.push(Number(f.int));
    else {
      const pos = { p: 0 };
      while (pos.p < f.bytes!.length) out.push(Number(varint(f.bytes!, pos)));
    }
  }
  return out;
}

/** KeyValue list (common.v1): key = 1, value = 2 (AnyValue: string_value = 1). */
function attributes(m: Msg, n: number): Record<string, string> {
  return Object.fromEntries(msgs(m, n).map((kv) => [str(kv, 1), str(msgs(kv, 2)[0] ?? new Map(), 1)]));
}

test('OTLP/HTTP protobuf push: exponential histograms that add up to the snapshot', async () => {
  const session = await analyzeFile('test/fixtures/kvm-amd-sample.data');
  const bodies: Buffer[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/metrics' && req.headers['content-type'] === 'application/x-protobuf') bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;
  const exporter = await startExporter(
    { ...defaultExporterOptions(), listenAddresses: ['127.0.0.1:0'], otlpEndpoint: `http://127.0.0.1:${port}`, otlpIntervalSeconds: 0.3 },
    { source: sessionSource(session), warn: (m) => console.error(m) },
  );
  try {
    const body = await waitFor('an OTLP export', async () => bodies[0], 15_000, 100);
    const request = decode(body); // ExportMetricsServiceRequest
    const resourceMetrics = msgs(request, 1);
    assert.is(resourceMetrics.length, 1);
    const resource = msgs(resourceMetrics[0], 1)[0];
    assert.is(attributes(resource, 1)['service.name'], 'kvmlens');
    const metrics = msgs(resourceMetrics[0], 2).flatMap((scope) => msgs(scope, 2));
    const byName = new Map(metrics.map((m) => [str(m, 1), m]));

    const exits = byName.get('kvm_exit_duration');
    assert.ok(exits, `metrics: ${[...byName.keys()].join(', ')}`);
    assert.is(str(exits, 3), 's');
    const expHist = msgs(exits, 10)[0]; // Metric.exponential_histogram
    assert.ok(expHist, 'sent as an exponential histogram');
    assert.is(Number(expHist.get(2)?.[0]?.int), 2, 'cumulative temporality');
    const points = msgs(expHist, 1);
    const q = session.query({ analysis: 'vmexit', groupBy: 'vcpu' });
    assert.is(points.length, q.length, 'one data point per (pid, vcpu, reason)');
    let total = 0;
    let sum = 0;
    for (const p of points) {
      const count = fixed64(p, 4);
      const positive = msgs(p, 8)[0];
      const buckets = positive ? uint64s(positive, 2) : [];
      assert.is(buckets.reduce((a, b) => a + b, 0) + fixed64(p, 7), count, 'buckets + zero_count = count');
      assert.ok(sint32(p, 6) <= 5, 'scale at most --otlp.exponential-scale');
      const attrs = attributes(p, 1);
      assert.ok(attrs.pid && attrs.vcpu && attrs.reason && attrs.isa, JSON.stringify(attrs));
      total += count;
      sum += double(p, 5);
    }
    assert.is(total, q.count.reduce((a, b) => a + b, 0));
    assert.ok(Math.abs(sum - q.sumNs.reduce((a, b) => a + b, 0) / 1e9) < 1e-9);

    const longExits = byName.get('kvm_long_exits');
    assert.ok(longExits && msgs(longExits, 7)[0], 'kvm_long_exits as a Sum');
    assert.is(Number(msgs(longExits!, 7)[0].get(3)?.[0]?.int), 1, 'monotonic');
  } finally {
    await exporter.stop();
    await new Promise((r) => receiver.close(r));
  }
});

test.run();
