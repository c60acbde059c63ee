// Writes the kvm scenario files (test/support/kvm-scenarios.ts) from a
// template recorded by real `perf kvm stat record` (root, tracefs).
//   node --import tsx scripts/make-test-files.ts [OUT_DIR] [TEMPLATE]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CPUID, SCENARIOS, buildScenario } from '../test/support/kvm-scenarios.ts';

export function recordTemplate(path: string) {
  if (!existsSync('/sys/kernel/tracing/events/kvm')) {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'ignore' });
    } catch {
      /* reported by perf below */
    }
  }
  execFileSync('perf', ['kvm', 'stat', 'record', '-a', '-o', path, '--', 'sleep', '0.1'], { stdio: 'ignore' });
}

export function makeTestFiles(outDir: string, template: string): string[] {
  mkdirSync(outDir, { recursive: true });
  return SCENARIOS.map((s) => {
    const path = join(outDir, `${s.name}.data`);
    buildScenario(template, s).write(path, { cpuid: CPUID[s.vendor] });
    return path;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? 'test/fixtures/generated';
  const template = process.argv[3] ?? join(out, 'template.data');
  mkdirSync(out, { recursive: true });
  if (!process.argv[3]) recordTemplate(template);
  for (const p of makeTestFiles(out, template)) console.log(p);
}
