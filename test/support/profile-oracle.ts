// Real perf as the oracle for the profiling commands: perf report / perf kvm
// report / perf diff / perf buildid-list next to kvmlens on the same files.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

export function havePerf(): boolean {
  return spawnSync('perf', ['--version']).status === 0 && process.getuid?.() === 0;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: opts.env ?? process.env });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function kvmlens(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Run {
  return run(process.execPath, [join(root, 'bin', 'kvmlens.js'), ...args], opts);
}

export function perf(args: string[]): Run {
  return run('perf', args);
}

/** perf report's output without its closing random "(Tip: ...)" block. */
export function withoutTip(text: string): string {
  return text.replace(/#\n# \(Tip: [^\n]*\)\n#\n$/, '');
}

/** The table rows (lines that start with a percentage). */
export function rows(text: string): string[] {
  return text.split('\n').filter((l) => /^\s+[\d.]+%/.test(l) || /^\s{10,}[+-][\d.]+%/.test(l));
}
