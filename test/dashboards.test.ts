// The Grafana dashboards: the committed JSON is what the generator writes,
// every panel is complete and says what it answers, every query is PromQL
// that Prometheus accepts — and, end to end, a real Prometheus scraping the
// exporter replaying the bundled recordings returns series for every panel
// query, with the counts and sums `kvmlens stat report --json` computes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { renderDashboards } from '../dashboards/src/build.ts';
import { NON_HLT_P99_THRESHOLD_SECONDS } from '../dashboards/src/queries.ts';

const root = join(import.meta.dirname, '..');
const dashDir = join(root, 'dashboards');
const rendered = renderDashboards();
const dashboards = Object.entries(rendered).map(([file, text]) => ({ file, json: JSON.parse(text) }));

interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

function panelsOf(d: any): any[] {
  return d.panels.flatMap((p: any) => [p, ...(p.panels ?? [])]);
}

const queries: PanelQuery[] = dashboards.flatMap(({ json }) =>
  panelsOf(json)
    .filter((p) => p.type !== 'row')
    .flatMap((p) => p.targets.map((t: any) => ({ dashboard: json.title, panel: p.title, refId: t.refId, expr: t.expr }))),
);

/** Grafana's variables, replaced the way a dashboard with everything selected would. */
function substitute(expr: string, vars: Record<string, string> = {}): string {
  const values: Record<string, string> = {
    __rate_interval: '5m',
    __interval: '1m',
    __range: '1h',
    job: '.*',
    instance: '.*',
    vm: '.*',
    vcpu: '.*',
    ...vars,
  };
  return expr.replace(/\$\{?(\w+)\}?/g, (m, name) => values[name] ?? m);
}

// ---------------------------------------------------------------- static

test('committed JSON is what dashboards/src/build.ts generates', () => {
  for (const [file, text] of Object.entries(rendered)) {
    const committed = readFileSync(join(dashDir, file), 'utf8');
    assert.ok(committed === text, `${file} is stale: run node --import tsx dashboards/src/build.ts`);
  }
});

test('dashboards: schemaVersion, uid, variables', () => {
  for (const { file, json } of dashboards) {
    assert.ok(json.schemaVersion >= 39, `${file}: schemaVersion ${json.schemaVersion}`);
    assert.match(json.uid, /^[a-z0-9-]{1,40}$/, file);
    const vars = new Map(json.templating.list.map((v: any) => [v.name, v]));
    const ds: any = vars.get('datasource');
    assert.ok(ds, `${file}: datasource variable`);
    assert.is(ds.type, 'datasource');
    assert.is(ds.query, 'prometheus');
    for (const name of ['instance', 'vm', 'vcpu']) {
      const v: any = vars.get(name);
      assert.ok(v, `${file}: ${name} variable`);
      assert.is(v.type, 'query');
      assert.is(v.datasource.uid, '${datasource}');
      assert.match(v.definition, /^label_values\(/);
    }
  }
  assert.is(new Set(dashboards.map((d) => d.json.uid)).size, dashboards.length, 'uids are unique');
});

test('every panel has a description, targets and the datasource variable', () => {
  for (const { file, json } of dashboards) {
    const ids = new Set<number>();
    for (const p of panelsOf(json)) {
      assert.not.ok(ids.has(p.id), `${file}: duplicate panel id ${p.id}`);
      ids.add(p.id);
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${file}: ${p.title} is wider than the grid`);
      if (p.type === 'row') continue;
      const where = `${file}: "${p.title}"`;
      assert.ok(p.description?.length >= 30, `${where}: description`);
      assert.match(p.description, /\?/, `${where}: description should state the question it answers`);
      assert.ok(p.targets?.length > 0, `${where}: targets`);
      assert.is(p.datasource.uid, '${datasource}', where);
      for (const t of p.targets) {
        assert.ok(t.expr?.trim(), `${where}: empty expr`);
        assert.is(t.datasource.uid, '${datasource}', where);
      }
    }
  }
});

test('the panels the issue asks for exist', () => {
  const overview = dashboards.find((d) => d.file === 'kvmlens-overview.json')!.json;
  const vm = dashboards.find((d) => d.file === 'kvmlens-vm.json')!.json;
  const exprs = (d: any) => panelsOf(d).flatMap((p) => (p.targets ?? []).map((t: any) => t.expr)).join('\n');
  const heatmaps = panelsOf(overview).filter((p) => p.type === 'heatmap');
  assert.ok(heatmaps.length >= 1, 'a vmexit heatmap');
  for (const h of [...heatmaps, ...panelsOf(vm).filter((p) => p.type === 'heatmap')]) {
    assert.is(h.options.calculate, false, 'the exporter already bucketed: no re-bucketing');
    for (const t of h.targets) {
      assert.is(t.format, 'heatmap', `${h.title}: format heatmap`);
      assert.match(t.expr, /^sum by \(le\) \(rate\(kvm_exit_duration_seconds_bucket\{.*\}\[\$__rate_interval\]\)\)$/);
    }
  }
  assert.is(heatmaps[0].repeat, 'vm', 'one heatmap per VM');
  const o = exprs(overview);
  assert.match(o, /histogram_quantile\(0\.5, sum by \(reason, le\)/, 'p50 by reason');
  assert.match(o, /histogram_quantile\(0\.99, sum by \(reason, le\)/, 'p99 by reason');
  assert.match(o, /sum by \(reason\) \(rate\(kvm_exit_duration_seconds_count/, 'exit rate by reason');
  assert.match(o, /topk\(10, sum by \(vm\) \(rate\(kvm_exit_duration_seconds_sum/, 'top VMs by time');
  assert.match(o, /topk\(10, sum by \(vm, vcpu\) \(rate\(kvm_exit_duration_seconds_sum/, 'top vCPUs by time');
  assert.match(o, /kvm_mmio_duration_seconds/);
  assert.match(o, /kvm_ioport_duration_seconds/);
  assert.match(o, /kvm_long_exits_total/);
  assert.match(o, /kvmlens_events_lost_total/);
  assert.match(o, /kvmlens_scrape_duration_seconds/);
  assert.match(o, /\bup\{/);
  const v = exprs(vm);
  assert.match(v, /kvm_vm_info/);
  assert.match(v, /kvm_msr_duration_seconds/);
  const vmVar = vm.templating.list.find((x: any) => x.name === 'vm');
  assert.is(vmVar.multi, false, 'the VM dashboard shows one VM');
});

test('non-HLT queries exclude both HLT spellings; the threshold line matches the alert', () => {
  for (const q of queries) {
    if (/non-HLT|long/i.test(q.panel)) assert.match(q.expr, /reason!~"hlt\|HLT"/, `${q.dashboard} / ${q.panel}`);
  }
  const rules = parse(readFileSync(join(dashDir, 'kvmlens-alerts.yml'), 'utf8'));
  const rule = rules.groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === 'KvmlensNonHltExitLatencyHigh');
  const threshold = Number(/\)\s*>\s*([0-9.e-]+)/.exec(rule.expr)?.[1]);
  assert.is(threshold, NON_HLT_P99_THRESHOLD_SECONDS, 'alert threshold and dashboard line agree');
});

test('dashboards/README.md lists every panel', () => {
  const readme = readFileSync(join(dashDir, 'README.md'), 'utf8');
  for (const { json } of dashboards) {
    for (const p of panelsOf(json).filter((x) => x.type !== 'row')) {
      assert.ok(readme.includes(`| ${p.title} | ${p.description} |`), `README.md is missing or has an old text for "${p.title}"`);
    }
  }
});

test('every query uses only known variables', () => {
  for (const q of queries) {
    const left = substitute(q.expr).match(/\$\{?\w+/g);
    assert.not.ok(left, `${q.dashboard} / ${q.panel}: unknown variable ${left}`);
  }
});

// ------------------------------------------------------------- promtool

const havePromtool = spawnSync('promtool', ['--version']).status === 0;
const havePrometheus = spawnSync('prometheus', ['--version']).status === 0;
if (!havePromtool) console.log('dashboards.test.ts: promtool not found (apt-get install prometheus): PromQL check skipped');

(havePromtool ? test : test.skip)('every panel and variable query is PromQL that promtool accepts', () => {
  // promtool has no "check this expression" command: each query becomes a
  // recording rule in its own group, named after its panel, so an error points at the panel.
  const groups = queries.map((q, i) => ({
    name: `${q.dashboard} / ${q.panel} / ${q.refId} (#${i})`,
    rules: [{ record: `kvmlens_dashboard_query_${i}`, expr: substitute(q.expr) }],
  }));
  // label_values(SELECTOR, label): the selector must be valid PromQL too.
  for (const { json } of dashboards) {
    for (const v of json.templating.list.filter((x: any) => x.type === 'query')) {
      const sel = /^label_values\((.*),\s*\w+\)$/.exec(v.definition)?.[1];
      assert.ok(sel, `${json.title}: variable ${v.name}: ${v.definition}`);
      groups.push({ name: `${json.title} / variable ${v.name}`, rules: [{ record: `kvmlens_dashboard_var_${groups.length}`, expr: substitute(sel) }] });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-dash-'));
  try {
    writeFileSync(join(dir, 'queries.yml'), stringify({ groups }));
    const r = spawnSync('promtool', ['check', 'rules', join(dir, 'queries.yml')], { encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${groups.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------ end to end

const kvmlensBin = join(root, 'bin', 'kvmlens.js');

/** Why the end-to-end part cannot run here, or undefined when it can. */
function e2eBlocker(): string | undefined {
  if (!havePrometheus) return 'prometheus not found (apt-get install prometheus)';
  if (!existsSync(kvmlensBin)) return 'bin/kvmlens.js missing';
  const help = spawnSync(process.execPath, [kvmlensBin, 'exporter', '--help'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  if (help.status !== 0 || !/--replay/.test(help.stdout)) {
    const out = `${help.stderr}${help.stdout}`;
    const why = /^.*error.*$/im.exec(out)?.[0] ?? (help.status === 0 ? '`exporter --help` does not mention --replay' : `exit ${help.status}`);
    return `\`kvmlens exporter --replay\` not available yet (${why.trim()})`;
  }
  if (fixtures().length === 0) return 'no test/fixtures/*.data recording with KVM events';
  return undefined;
}

interface Fixture {
  file: string;
  /** `kvmlens stat report --json` of the file, per analysis. */
  report: Record<'vmexit' | 'mmio' | 'ioport' | 'msr', any>;
}

let fixtureCache: Fixture[] | undefined;
function fixtures(): Fixture[] {
  if (fixtureCache) return fixtureCache;
  const dir = join(root, 'test', 'fixtures');
  const out: Fixture[] = [];
  for (const f of existsSync(dir) ? readdirSync(dir).filter((x) => x.endsWith('.data')).sort() : []) {
    const report: any = {};
    for (const event of ['vmexit', 'mmio', 'ioport', 'msr']) {
      const file = join(dir, f);
      const r = spawnSync(process.execPath, [kvmlensBin, '-i', file, 'stat', 'report', `--event=${event}`, '--json'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (r.status !== 0) break;
      report[event] = JSON.parse(r.stdout);
    }
    if (report.vmexit?.totals.samples > 0) out.push({ file: join(dir, f), report });
  }
  return (fixtureCache = out);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Child {
  name: string;
  proc: ChildProcess;
  log: string[];
}

function start(name: string, cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const keep = (b: Buffer) => {
    log.push(b.toString());
    if (log.length > 200) log.shift();
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return { name, proc, log };
}

async function stop(c: Child) {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return;
  c.proc.kill('SIGKILL');
  await exited;
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined>, children: Child[]): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    for (const c of children) {
      if (c.proc.exitCode !== null) throw new Error(`${c.name} exited (${c.proc.exitCode}) while waiting for ${what}:\n${c.log.join('')}`);
    }
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}

async function httpOk(url: string) {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return r.ok ? true : undefined;
}

interface Env {
  prom: string;
  children: Child[];
  targets: { fixture: Fixture; instance: string }[];
  dir: string;
}

async function promQuery(env: Env, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const url = `${env.prom}/api/v1/query?query=${encodeURIComponent(query)}`;
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body: any = await r.json();
  if (body.status !== 'success') throw new Error(`${query}: ${body.errorType}: ${body.error}`);
  return body.data.result;
}

async function startEnv(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'kvmlens-e2e-'));
  const env: Env = { prom: '', children: [], targets: [], dir };
  try {
    for (const fixture of fixtures()) {
      const port = await freePort();
      const instance = `127.0.0.1:${port}`;
      env.children.push(start(`exporter ${fixture.file}`, process.execPath, [kvmlensBin, 'exporter', '--replay', fixture.file, '--web.listen-address', instance]));
      env.targets.push({ fixture, instance });
    }
    for (const t of env.targets) await waitFor(`exporter on ${t.instance}`, 30_000, () => httpOk(`http://${t.instance}/metrics`), env.children);

    const promPort = await freePort();
    env.prom = `http://127.0.0.1:${promPort}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        // The alert rules are loaded too: they must evaluate cleanly on real data.
        rule_files: [join(dashDir, 'kvmlens-alerts.yml')],
        scrape_configs: [{ job_name: 'kvmlens', static_configs: [{ targets: env.targets.map((t) => t.instance) }] }],
      }),
    );
    env.children.push(
      start('prometheus', 'prometheus', [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ]),
    );
    await waitFor('prometheus ready', 30_000, () => httpOk(`${env.prom}/-/ready`), env.children);
    // Two scrapes of every target, so rate() has two samples to work with.
    await waitFor('two scrapes of every exporter', 30_000, async () => {
      const r = await promQuery(env, 'count_over_time(up{job="kvmlens"}[5m]) >= 2');
      return r.length === env.targets.length ? true : undefined;
    }, env.children);
    // The replay is over when Prometheus sees every exit of the recording, or
    // (if the exporter disagrees with the report) when the count stops moving
    // for 5 s: the value test then says by how much they differ.
    for (const t of env.targets) {
      const expected = t.fixture.report.vmexit.totals.samples;
      let last = -1;
      let since = Date.now();
      await waitFor(`the replay of ${t.fixture.file} on ${t.instance} to finish`, 90_000, async () => {
        const r = await promQuery(env, `sum(kvm_exit_duration_seconds_count{instance="${t.instance}"})`);
        const n = Number(r[0]?.value[1] ?? 0);
        if (n !== last) [last, since] = [n, Date.now()];
        return n === expected || (n > 0 && Date.now() - since > 5000) ? true : undefined;
      }, env.children);
    }
    // One more scrape after the last event, so rates cover the whole replay.
    await sleep(2500);
    return env;
  } catch (err) {
    await stopEnv(env);
    throw err;
  }
}

async function stopEnv(env: Env) {
  await Promise.all(env.children.map(stop));
  rmSync(env.dir, { recursive: true, force: true });
}

const blocker = e2eBlocker();
if (blocker) console.log(`dashboards.test.ts: end-to-end panel queries skipped: ${blocker}`);
const e2e = blocker ? test.skip : test;
let envPromise: Promise<Env> | undefined;
const env = () => (envPromise ??= startEnv());

test.after(async () => {
  if (envPromise) await stopEnv(await envPromise.catch(() => ({ prom: '', children: [], targets: [], dir: '' }) as Env));
});

e2e('e2e: every dashboard panel query returns series from a real Prometheus', async () => {
  const e = await env();
  const empty: string[] = [];
  for (const q of queries) {
    const expr = substitute(q.expr);
    const result = await promQuery(e, expr);
    if (result.length === 0) empty.push(`${q.dashboard} / ${q.panel} / ${q.refId}: ${expr}`);
  }
  assert.equal(empty, [], `queries returning nothing:\n${empty.join('\n')}`);
});

/**
 * A panel query rewritten to read totals over the whole replay: each
 * rate(X[$__rate_interval]) becomes max_over_time(X[1h]), the last value
 * of a counter that stopped moving. Selector and grouping stay the panel's own.
 */
function totalsOf(expr: string, instance: string) {
  return substitute(expr.replace(/rate\((.+?)\[\$__rate_interval\]\)/g, 'max_over_time($1[1h])'), { instance });
}

function panelQuery(dashboard: string, panel: string, refId = 'A') {
  const q = queries.find((x) => x.dashboard === dashboard && x.panel === panel && x.refId === refId);
  assert.ok(q, `no query ${dashboard} / ${panel} / ${refId}`);
  return q!.expr;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 + 1e-6 * Math.abs(b);

e2e('e2e: panel values match `kvmlens stat report --json` of the same recording', async () => {
  const e = await env();
  for (const { fixture, instance } of e.targets) {
    const vmexit = fixture.report.vmexit;
    const where = `${fixture.file} (${instance})`;
    const byReason = async (panel: string) =>
      new Map((await promQuery(e, totalsOf(panelQuery('kvmlens / Overview', panel), instance))).map((s) => [s.metric.reason, Number(s.value[1])]));

    // Exit rate by reason: one series per reason, as many exits as the report counts.
    const counts = await byReason('Exit rate by reason');
    const expected = new Map<string, number>(vmexit.rows.map((r: any) => [r.name, r.samples]));
    assert.equal([...counts.keys()].sort(), [...expected.keys()].sort(), `${where}: exit reasons`);
    for (const [reason, n] of expected) assert.is(counts.get(reason), n, `${where}: exits with reason ${reason}`);

    // Time in non-HLT exits by reason: the report's total time per reason, HLT left out.
    const busy = await byReason('Time in non-HLT exits by reason');
    for (const r of vmexit.rows) {
      if (/^(hlt|HLT)$/.test(r.name)) assert.not.ok(busy.has(r.name), `${where}: HLT must be excluded`);
      else assert.ok(close(busy.get(r.name) ?? NaN, r.sumNs / 1e9), `${where}: time in ${r.name}: ${busy.get(r.name)} s vs ${r.sumNs / 1e9} s`);
    }

    // Top VMs by time in exits: all VMs of a small recording are in the top 10; together they are the total time.
    const top = await promQuery(e, totalsOf(panelQuery('kvmlens / Overview', 'Top VMs by time in exits'), instance));
    const topSum = top.reduce((s, x) => s + Number(x.value[1]), 0);
    assert.ok(close(topSum, vmexit.totals.timeNs / 1e9), `${where}: time in exits ${topSum} s vs ${vmexit.totals.timeNs / 1e9} s`);

    // MMIO, port I/O and MSR accesses: all directions together are the report's sample count.
    const accesses: [string, string, 'mmio' | 'ioport' | 'msr'][] = [
      ['kvmlens / Overview', 'MMIO accesses by VM and direction', 'mmio'],
      ['kvmlens / Overview', 'Port I/O by VM and direction', 'ioport'],
      ['kvmlens / One VM', 'MSR accesses by direction', 'msr'],
    ];
    for (const [dashboard, panel, event] of accesses) {
      const want = fixture.report[event]?.totals.samples ?? 0;
      const got = (await promQuery(e, totalsOf(panelQuery(dashboard, panel), instance))).reduce((s, x) => s + Number(x.value[1]), 0);
      assert.is(got, want, `${where}: ${panel}`);
    }
  }
});

e2e('e2e: the alert rules evaluate without errors on the scraped data', async () => {
  const e = await env();
  const r = await fetch(`${e.prom}/api/v1/rules`, { signal: AbortSignal.timeout(10_000) });
  const body: any = await r.json();
  const rules = body.data.groups.flatMap((g: any) => g.rules);
  assert.ok(rules.length >= 4, `${rules.length} rules loaded`);
  for (const rule of rules) assert.is(rule.health === 'err' ? rule.lastError : 'ok', 'ok', rule.name);
});

test.run();
