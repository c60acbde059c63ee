// `kvmlens stat report` starts reading its file before the rest of the CLI
// (commander, the report formatters) has loaded: the native reader runs on
// its own thread meanwhile. Only the plain forms are recognised (one -i /
// --input, or none and no --host/--guest switches); runStatReport takes the
// started analysis only if it resolved the same input, else it starts its
// own, so the outcome never depends on this guess.
import { analyzeFile, type NativeSession } from '../core/native.ts';
import { commandPath, normalizeArgv } from './argv.ts';

interface Early {
  input: string;
  session: Promise<NativeSession>;
  onProgress?: (done: number, total: number) => void;
}

let early: Early | undefined;

/** The input `stat report` will read, when argv says so plainly; else undefined. */
export function plainReportInput(argv: string[]): string | undefined {
  const args = normalizeArgv(argv);
  const [command, sub] = commandPath(args);
  if (command !== 'stat' || sub !== 'report') return undefined;
  const inputs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-h' || a === '--help' || a === '--') return undefined;
    if (a === '-i' || a === '--input') {
      if (i + 1 >= args.length) return undefined;
      inputs.push(args[++i]);
    } else if (a.startsWith('--input=')) {
      inputs.push(a.slice('--input='.length));
    } else if (/^-[^-]*i/.test(a) || a === '--host' || a === '--guest' || a === '--no-guest') {
      return undefined; // -iFILE, -vi FILE, or a switch that picks the default name
    }
  }
  if (inputs.length > 1) return undefined;
  return inputs[0] ?? 'perf.data.guest';
}

export function startEarlyReport(argv: string[]): void {
  const input = plainReportInput(argv);
  if (input === undefined) return;
  const e: Early = { input, session: Promise.resolve() as unknown as Promise<NativeSession> };
  e.session = analyzeFile(input, (done, total) => e.onProgress?.(done, total));
  e.session.catch(() => {}); // reported by runStatReport if taken, else dropped
  early = e;
}

/** The analysis started for `input`, if any; `onProgress` receives its progress from now on. */
export function takeEarlyReport(
  input: string,
  onProgress: (done: number, total: number) => void,
): Promise<NativeSession> | undefined {
  const e = early;
  early = undefined;
  if (!e || e.input !== input) return undefined;
  e.onProgress = onProgress;
  return e.session;
}

/** Whether an analysis was started and never taken (a usage error, --help, another input). */
export function earlyReportUntaken(): boolean {
  return early !== undefined;
}
