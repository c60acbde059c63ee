// How `record` and `stat record` decide when a recording ends, as perf
// record does: when COMMAND exits (a SIGINT or SIGTERM sent to kvmlens is
// passed on to it, and its exit ends the recording), or, without a command,
// at SIGINT / SIGTERM or when `done()` says so (-p targets all gone).
import { spawn, type ChildProcess } from 'node:child_process';

export interface RunUntilStopped {
  /** Started already (held before exec, say); else `command` is spawned here. */
  child?: ChildProcess;
  /** Lets a held `child` go on (once the signal handlers are in place). */
  release?: () => void;
  command: string[];
  /** The recording goes to standard output (`-o -`): the command's output goes to stderr instead. */
  stdoutToStderr?: boolean;
  /** Polled every 200 ms without a command: true ends the recording. */
  done?: () => boolean;
}

/** Resolves with the command's exit status (127: it could not run; 0 without a command). */
export async function runUntilStopped(opts: RunUntilStopped): Promise<number> {
  let child = opts.child;
  let stopRequested: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches a command through the terminal anyway; a SIGTERM to
    // kvmlens alone must reach it too, or the recording would never end.
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    else stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (!child && opts.command.length > 0) child = spawn(opts.command[0], opts.command.slice(1), { stdio: ['inherit', opts.stdoutToStderr ? 2 : 'inherit', 'inherit'] });
    if (child) {
      opts.release?.();
      return await exitStatus(child, opts.command[0]);
    }
    process.stderr.write('kvmlens: recording; press Ctrl-C to stop\n');
    // Signal handlers and native threads do not keep Node's event loop
    // alive: without a timer Node would exit here at once.
    const keepAlive = setInterval(() => {
      if (opts.done?.()) stopRequested();
    }, 200);
    await stopped;
    clearInterval(keepAlive);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A child's exit status as a shell gives it (128 when killed by a signal), 127 when it could not run. */
export function exitStatus(child: ChildProcess, name = 'the command'): Promise<number> {
  return new Promise<number>((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.on('error', (err) => {
      process.stderr.write(`kvmlens: cannot run ${name}: ${err.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
