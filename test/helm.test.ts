// The Helm chart, without a helm binary: values.yaml validates against
// values.schema.json, every template is YAML once its Go-template actions are
// taken out, the chart's alert rules are the file promtool tests, and the
// security defaults are the least privilege the issue asks for.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';

const root = join(import.meta.dirname, '..');
const chart = join(root, 'helm', 'kvmlens');
const read = (...p: string[]) => readFileSync(join(...p), 'utf8');

const values = parse(read(chart, 'values.yaml'));
const schema = JSON.parse(read(chart, 'values.schema.json'));

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema);
}

/**
 * Takes out Go-template actions so the rest can be parsed as YAML: a line
 * holding only actions (`{{- if … }}`, `{{- toYaml . | nindent 4 }}`) goes,
 * an action inside a line becomes the scalar `x`. Both branches of an
 * if/else survive, so templates must not repeat a key across branches.
 */
export function stripTemplate(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.replace(/\{\{.*?\}\}/g, '').trim() !== '' || line.trim() === '')
    .map((line) => line.replace(/\{\{.*?\}\}/g, 'x'))
    .join('\n');
}

test('Chart.yaml is a valid v2 chart', () => {
  const c = parse(read(chart, 'Chart.yaml'));
  assert.is(c.apiVersion, 'v2');
  assert.is(c.name, 'kvmlens');
  assert.is(c.type, 'application');
  assert.match(c.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'version is SemVer 2');
  assert.type(c.appVersion, 'string');
  assert.ok(c.description?.length > 10);
  const pkg = JSON.parse(read(root, 'package.json'));
  assert.is(c.appVersion, pkg.version, 'appVersion follows package.json');
});

test('values.yaml validates against values.schema.json', () => {
  const validate = validator();
  assert.ok(validate(values), JSON.stringify(validate.errors, null, 2));
});

test('the schema rejects what it should', () => {
  const validate = validator();
  const bad = (patch: (v: any) => void, why: string) => {
    const v = structuredClone(values);
    patch(v);
    assert.not.ok(validate(v), `should be rejected: ${why}`);
  };
  bad((v) => (v.containerSecurityContext.privileged = true), 'privileged inside containerSecurityContext (use the top-level opt-in)');
  bad((v) => (v.privileged = 'yes'), 'privileged not a boolean');
  bad((v) => (v.service.port = 70000), 'port out of range');
  bad((v) => (v.imageTag = 'latest'), 'unknown top-level key (typo)');
  bad((v) => (v.prometheusRule.overrides = { KvmlensEventsLost: { for: 'soon' } }), 'override with a bad duration');
  bad((v) => (v.exporter.longExitThreshold = 'a while'), 'threshold that is not a duration');
  const ok = structuredClone(values);
  ok.privileged = true;
  ok.prometheusRule.overrides = { KvmlensNonHltExitLatencyHigh: { for: '15m', labels: { severity: 'critical' } } };
  ok.exporter.longExitThreshold = '500us';
  assert.ok(validate(ok), JSON.stringify(validate.errors));
});

test('least privilege by default, privileged only as an opt-in', () => {
  assert.is(values.privileged, false);
  assert.is(values.hostPID, true);
  const csc = values.containerSecurityContext;
  assert.equal(csc.capabilities.add, ['PERFMON', 'IPC_LOCK']);
  assert.equal(csc.capabilities.drop, ['ALL']);
  assert.is(csc.readOnlyRootFilesystem, true);
  assert.is(csc.allowPrivilegeEscalation, false);
  assert.is(values.hostTracefsMount.path, '/sys/kernel/tracing');
  const ds = read(chart, 'templates', 'daemonset.yaml');
  // Every hostPath is mounted read-only.
  const mounts = [...ds.matchAll(/- name: (tracefs|debugfs-tracing)\n\s+mountPath: .*\n\s+readOnly: (\w+)/g)];
  assert.is(mounts.length, 2);
  for (const m of mounts) assert.is(m[2], 'true', `${m[1]} must be readOnly`);
  assert.match(ds, /command: \["kvmlens"\]/);
  assert.match(ds, /- exporter\n/);
  assert.match(ds, /--web\.listen-address=:\{\{ \.Values\.service\.port \}\}/);
  const helpers = read(chart, 'templates', '_helpers.tpl');
  assert.match(helpers, /set \$csc "privileged" false/, 'privileged forced off unless opted in');
});

test('every template parses as YAML once template actions are stripped', () => {
  const dir = join(chart, 'templates');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 5, files.join(', '));
  for (const f of files) {
    const text = read(dir, f);
    // Blocks must balance, or helm fails before YAML is even produced.
    const opens = (text.match(/\{\{-?\s*(if|range|with|define)\b/g) ?? []).length;
    const ends = (text.match(/\{\{-?\s*end\s*-?\}\}/g) ?? []).length;
    assert.is(opens, ends, `${f}: ${opens} block openings, ${ends} {{ end }}`);
    const docs = parseAllDocuments(stripTemplate(text));
    for (const d of docs) {
      assert.equal(d.errors.map(String), [], `${f}: ${d.errors.map(String).join('; ')}`);
    }
    const doc = docs.map((d) => d.toJS()).find((d) => d && d.kind);
    assert.ok(doc, `${f}: no Kubernetes object`);
    assert.type(doc.apiVersion, 'string', f);
    assert.ok(doc.metadata?.name, `${f}: metadata.name`);
  }
  const helpers = read(dir, '_helpers.tpl');
  const opens = (helpers.match(/\{\{-?\s*(if|range|with|define)\b/g) ?? []).length;
  const ends = (helpers.match(/\{\{-?\s*end\s*-?\}\}/g) ?? []).length;
  assert.is(opens, ends, '_helpers.tpl blocks balance');
});

test('templates reference only values that exist', () => {
  const dir = join(chart, 'templates');
  const missing: string[] = [];
  for (const f of readdirSync(dir)) {
    for (const m of read(dir, f).matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      let v: any = values;
      for (const key of m[1].slice(1).split('.')) v = v?.[key];
      if (v === undefined) missing.push(`${f}: .Values${m[1]}`);
    }
  }
  assert.equal(missing, []);
});

test('the chart ships the alert rules promtool tests, byte for byte', () => {
  const chartRules = read(chart, 'files', 'kvmlens-alerts.yml');
  const tested = read(root, 'dashboards', 'kvmlens-alerts.yml');
  assert.ok(chartRules === tested, 'helm/kvmlens/files/kvmlens-alerts.yml differs: cp dashboards/kvmlens-alerts.yml helm/kvmlens/files/');
  const tpl = read(chart, 'templates', 'prometheusrule.yaml');
  assert.match(tpl, /include "kvmlens\.ruleGroups"/);
  assert.match(read(chart, 'templates', '_helpers.tpl'), /\.Files\.Get "files\/kvmlens-alerts\.yml"/);
  // The rules select job="kvmlens": the ServiceMonitor's default job label must produce it.
  assert.match(read(chart, 'templates', 'servicemonitor.yaml'), /jobLabel: \{\{ default "app\.kubernetes\.io\/name"/);
  assert.match(tested, /job="kvmlens"/);
});

test('the systemd unit runs the exporter with least privilege', () => {
  const unit = read(root, 'helm', 'systemd', 'kvmlens-exporter.service');
  assert.match(unit, /^ExecStart=.*kvmlens exporter .*--web\.listen-address=/m);
  assert.match(unit, /^CapabilityBoundingSet=CAP_PERFMON CAP_IPC_LOCK$/m);
  assert.match(unit, /^NoNewPrivileges=yes$/m);
  assert.match(unit, /^ReadOnlyPaths=.*\/sys\/kernel\/tracing/m);
});

test.run();
