// The exporter in-process on a finished analysis: exposition formats and
// promtool, content negotiation, the toolkit endpoints, collector flags,
// reason filters, the series limit, web config validation, and TLS + basic
// auth refusing the wrong client.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeFile, type NativeSession } from '../src/core/native.ts';
import { defaultExporterOptions, startExporter, type Exporter, type ExporterOptions } from '../src/exporter/exporter.ts';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '../src/exporter/exposition.ts';
import { sessionSource } from '../src/exporter/source.ts';
import { parseListenAddress } from '../src/exporter/web/listen-address.ts';
import { parseWebConfig } from '../src/exporter/web/web-config.ts';
import { haveBinary } from './support/prometheus.ts';

let session: NativeSession;

async function withExporter(overrides: Partial<ExporterOptions>, body: (e: Exporter, base: string) => Promise<void>) {
  session ??= await analyzeFile('test/fixtures/kvm-amd-sample.data');
  const warnings: string[] = [];
  const e = await startExporter(
    { ...defaultExporterOptions(), listenAddresses: ['127.0.0.1:0'], ...overrides },
    { source: sessionSource(session), warn: (m) => warnings.push(m) },
  );
  try {
    await body(e, `http://${e.addresses[0]}`);
  } finally {
    await e.stop();
  }
}

const families = (text: string) => new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));

test('text format passes promtool check metrics; OpenMetrics by negotiation ends in # EOF', async () => {
  await withExporter({}, async (_e, base) => {
    const text = await fetch(`${base}/metrics`);
    assert.is(text.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE);
    const body = await text.text();
    assert.ok(families(body).has('kvm_exit_duration_seconds'));
    assert.ok(families(body).has('kvm_long_exits_total'));
    if (haveBinary('promtool')) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
      assert.is(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
      assert.is(`${r.stdout}${r.stderr}`.trim(), '', 'no lint findings');
    } else {
      console.log('skipping promtool check: no `promtool` binary (apt-get install prometheus)');
    }
    const om = await fetch(`${base}/metrics`, { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
    assert.is(om.headers.get('content-type'), OPENMETRICS_CONTENT_TYPE);
    const omBody = await om.text();
    assert.ok(omBody.endsWith('# EOF\n'));
    assert.ok(families(omBody).has('kvm_long_exits'), 'OpenMetrics counters drop _total from the family name');
    assert.match(omBody, /^kvm_long_exits_total\{/m);
  });
});

test('landing page, /-/healthy, /-/ready, custom telemetry path', async () => {
  await withExporter({ telemetryPath: '/kvm' }, async (_e, base) => {
    assert.match(await (await fetch(`${base}/`)).text(), /href="kvm"/);
    assert.is((await fetch(`${base}/-/healthy`)).status, 200);
    assert.is((await fetch(`${base}/-/ready`)).status, 200);
    assert.is((await fetch(`${base}/kvm`)).status, 200);
    assert.is((await fetch(`${base}/metrics`)).status, 404);
  });
});

test('histogram numbers: +Inf = _count, _sum exact, per family totals match the session', async () => {
  await withExporter({}, async (e) => {
    const { families: fams } = e.scraper.gather(false);
    for (const [name, analysis] of [
      ['kvm_exit_duration_seconds', 'vmexit'],
      ['kvm_mmio_duration_seconds', 'mmio'],
      ['kvm_ioport_duration_seconds', 'ioport'],
      ['kvm_msr_duration_seconds', 'msr'],
    ] as const) {
      const f = fams.find((x) => x.name === name);
      assert.ok(f && f.type === 'histogram', name);
      if (f.type !== 'histogram') continue;
      const q = session.query({ analysis, groupBy: 'key' });
      const wantCount = q.count.reduce((a, b) => a + b, 0);
      const wantSum = q.sumNs.reduce((a, b) => a + b, 0) / 1e9;
      assert.is(f.children.reduce((a, c) => a + c.count, 0), wantCount, `${name} count`);
      assert.ok(Math.abs(f.children.reduce((a, c) => a + c.sumSeconds, 0) - wantSum) < 1e-12, `${name} sum`);
      for (const c of f.children) assert.is(c.slots.reduce((a, b) => a + b, 0), c.count, `${name} +Inf = count`);
    }
  });
});

test('collector flags, reason filters and opt-in port labels', async () => {
  await withExporter(
    { collectors: { vmexit: true, mmio: false, ioport: true, msr: false }, reasonExclude: 'hlt|pause', labels: { ioportPort: true, mmioGpa: false, msrIndex: false, topN: 2 } },
    async (e) => {
      const body = (await e.metrics()).body;
      const f = families(body);
      assert.ok(f.has('kvm_exit_duration_seconds') && f.has('kvm_ioport_duration_seconds'));
      assert.not.ok(f.has('kvm_mmio_duration_seconds') || f.has('kvm_msr_duration_seconds'));
      assert.not.match(body, /reason="(hlt|HLT|pause)"/);
      const ports = new Set([...body.matchAll(/port="([^"]+)"/g)].map((m) => m[1]));
      assert.ok(ports.has('other'), 'ports beyond the top N share "other"');
      assert.is(ports.size, 3, 'two named ports plus "other"');
    },
  );
  await withExporter({ reasonInclude: 'io' }, async (e) => {
    const reasons = new Set([...(await e.metrics()).body.matchAll(/reason="([^"]+)"/g)].map((m) => m[1]));
    assert.equal([...reasons], ['io']);
  });
});

test('series limit: busiest label sets kept, the rest counted in kvmlens_series_dropped_total', async () => {
  // Every scrape renders (no reuse window), so the second one counts again.
  await withExporter({ seriesLimit: 5, maxRenderAgeSeconds: 0 }, async (e) => {
    const body = (await e.metrics()).body;
    const { families: fams } = e.scraper.gather(false);
    const labelSets = fams
      .filter((f) => f.name.startsWith('kvm_'))
      .reduce((n, f) => n + (f.type === 'histogram' ? f.children.length : f.samples.length), 0);
    assert.is(labelSets, 5, 'exactly the limit of kvm_* label sets');
    const vmexit = fams.find((f) => f.name === 'kvm_exit_duration_seconds');
    const kept = vmexit?.type === 'histogram' ? vmexit.children.map((c) => c.count) : [];
    const all = session.query({ analysis: 'vmexit', groupBy: 'vcpu' }).count;
    assert.equal(kept.sort((a, b) => b - a), [...all].sort((a, b) => b - a).slice(0, 5), 'the busiest are kept');
    const dropped = [...body.matchAll(/^kvmlens_series_dropped_total\{collector="(\w+)"\} (\d+)/gm)].reduce((a, m) => a + Number(m[2]), 0);
    assert.ok(dropped > 0);
    const again = (await e.metrics()).body;
    const dropped2 = [...again.matchAll(/^kvmlens_series_dropped_total\{collector="(\w+)"\} (\d+)/gm)].reduce((a, m) => a + Number(m[2]), 0);
    assert.is(dropped2, 2 * dropped, 'the counter keeps counting');
  });
});

test('inexact --histogram.buckets are reported at start-up', async () => {
  session ??= await analyzeFile('test/fixtures/kvm-amd-sample.data');
  const warnings: string[] = [];
  const e = await startExporter(
    { ...defaultExporterOptions(), listenAddresses: ['127.0.0.1:0'], histogramBucketsSeconds: [0.001, 2 ** 20 / 1e9] },
    { source: sessionSource(session), warn: (m) => warnings.push(m) },
  );
  await e.stop();
  assert.is(warnings.length, 1);
  assert.match(warnings[0], /0\.001: not a native bucket boundary.*below 999424 ns/);
});

test('listen addresses and web config validation', () => {
  assert.equal(parseListenAddress(':9756'), { host: undefined, port: 9756 });
  assert.equal(parseListenAddress('127.0.0.1:1'), { host: '127.0.0.1', port: 1 });
  assert.equal(parseListenAddress('[::1]:9756'), { host: '::1', port: 9756 });
  assert.throws(() => parseListenAddress('9756'), /HOST:PORT/);
  assert.throws(() => parseWebConfig('tls_server_config:\n  certfile: x\n', 'w.yml'), /unknown key 'certfile'/);
  assert.throws(() => parseWebConfig('basic_auth_users:\n  u: plaintext\n', 'w.yml'), /bcrypt hash/);
  assert.throws(() => parseWebConfig('tls_server_config:\n  key_file: k\n', 'w.yml'), /cert_file is required/);
  assert.equal(parseWebConfig('', 'w.yml').basicAuthUsers.size, 0);
});

function httpsGet(url: string, opts: { ca?: string; auth?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: opts.ca, auth: opts.auth, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('TLS + basic auth: right client in, wrong password / untrusted / plain HTTP out', async () => {
  if (spawnSync('openssl', ['version']).status !== 0) {
    console.log('skipping: no openssl');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-web-'));
  try {
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=kvmlens-test', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    writeFileSync(
      join(dir, 'web.yml'),
      `tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS12\nbasic_auth_users:\n  alice: ${JSON.stringify(bcrypt.hashSync('s3cret', 8))}\n`,
    );
    const ca = spawnSync('cat', [join(dir, 'cert.pem')], { encoding: 'utf8' }).stdout;
    await withExporter({ webConfigFile: join(dir, 'web.yml') }, async (e) => {
      const url = `https://${e.addresses[0]}/metrics`;
      const ok = await httpsGet(url, { ca, auth: 'alice:s3cret' });
      assert.is(ok.status, 200);
      assert.match(ok.body, /kvm_exit_duration_seconds_bucket/);
      assert.is((await httpsGet(url, { ca, auth: 'alice:s3cret' })).status, 200, 'cached verification still admits');
      assert.is((await httpsGet(url, { ca, auth: 'alice:wrong' })).status, 401);
      assert.is((await httpsGet(url, { ca, auth: 'mallory:s3cret' })).status, 401);
      assert.is((await httpsGet(url, { ca })).status, 401);
      let untrusted = false;
      await httpsGet(url, { auth: 'alice:s3cret' }).catch(() => (untrusted = true));
      assert.ok(untrusted, 'a client that does not trust the certificate fails the handshake');
      let plain = false;
      await fetch(`http://${e.addresses[0]}/metrics`, { signal: AbortSignal.timeout(5000) }).then((res) => (plain = res.status >= 400)).catch(() => (plain = true));
      assert.ok(plain, 'plain HTTP on the TLS port is refused');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
