// The alert rules, checked by Prometheus' own tool: `promtool check rules`
// (syntax, PromQL, templates) and `promtool test rules` (each alert fires on
// the series in dashboards/kvmlens-alerts.test.yml, and stays quiet on the
// others). Skips, saying so, where promtool is not installed
// (apt-get install prometheus).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const dir = join(import.meta.dirname, '..', 'dashboards');
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const havePromtool = promtool.status === 0;
const ptest = havePromtool ? test : test.skip;
if (!havePromtool) console.log('alerts.test.ts: promtool not found (apt-get install prometheus): promtool checks skipped');

function run(args: string[]) {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const rules = parse(readFileSync(join(dir, 'kvmlens-alerts.yml'), 'utf8'));
const alerts: any[] = rules.groups.flatMap((g: any) => g.rules).filter((r: any) => r.alert);

test('alerts share the Kvmlens prefix and carry severity, summary, description', () => {
  assert.ok(alerts.length >= 4);
  for (const a of alerts) {
    assert.match(a.alert, /^Kvmlens[A-Z]/, a.alert);
    assert.ok(['critical', 'warning', 'info'].includes(a.labels?.severity), `${a.alert}: severity`);
    assert.ok(a.annotations?.summary, `${a.alert}: summary`);
    assert.ok(a.annotations?.description, `${a.alert}: description`);
  }
  const names = alerts.map((a) => a.alert);
  for (const n of ['KvmlensLongNonHltExits', 'KvmlensNonHltExitLatencyHigh', 'KvmlensEventsLost', 'KvmlensExporterDown']) {
    assert.ok(names.includes(n), `missing ${n}`);
  }
});

test('non-HLT rules exclude both HLT spellings', () => {
  for (const a of alerts.filter((a) => /NonHlt/.test(a.alert))) {
    for (const sel of a.expr.match(/kvm_\w+\{[^}]*\}/g) ?? []) assert.match(sel, /reason!~"hlt\|HLT"/, `${a.alert}: ${sel}`);
  }
});

test('every alert has a firing and a quiet unit test', () => {
  const tests = parse(readFileSync(join(dir, 'kvmlens-alerts.test.yml'), 'utf8')).tests;
  for (const a of alerts) {
    const cases = tests.flatMap((t: any) => t.alert_rule_test ?? []).filter((c: any) => c.alertname === a.alert);
    assert.ok(cases.some((c: any) => c.exp_alerts?.length > 0), `${a.alert}: no test where it fires`);
    assert.ok(cases.some((c: any) => !c.exp_alerts?.length), `${a.alert}: no test where it stays quiet`);
  }
});

ptest('promtool check rules', () => {
  const r = run(['check', 'rules', 'kvmlens-alerts.yml']);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

ptest('promtool test rules: every alert fires and stays quiet where it should', () => {
  const r = run(['test', 'rules', 'kvmlens-alerts.test.yml']);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

test.run();
