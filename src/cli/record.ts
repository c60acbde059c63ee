// `kvmlens record`: perf kvm record. Samples `cycles` (cpu-clock where the
// machine has no hardware PMU, as perf falls back) with exclude_host /
// exclude_guest from --host / --guest, and writes a perf.data file with the
// side band and build-ids that `perf report` / `perf buildid-list` need.
// Targets as perf record: -a (system-wide, the default without a command),
// -p PID, or `-- COMMAND` (counted from its exec on, children included).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { KvmlensError } from '../core/errors.ts';
import { startProfileRecord, type ProfileRecorder } from '../core/native-profile.ts';
import { defaultInputFile, type GlobalOptions } from './global-options.ts';
import { addGuestOptions, guestOptions, hostGuest, type GuestOptions } from './guest-options.ts';
import { warn } from './output.ts';
import { parsePidList } from './parse.ts';
import { exitStatus, runUntilStopped } from './run-until-stopped.ts';

interface RecordCliOptions extends GuestOptions {
  output?: string;
  allCpus?: boolean;
  pid?: number[];
  freq?: number;
  count?: number;
  mmapPages: string;
  buildidCache: boolean;
  verbose?: boolean;
  event?: string[];
  g?: boolean;
  callGraph?: string;
}

/**
 * perf record's --call-graph RECORD_MODE[,RECORD_SIZE]: kvmlens records
 * frame-pointer chains only (`fp`, which -g means); dwarf and lbr are
 * refused with a line saying so.
 */
export function callGraphMode(v: string): 'fp' {
  const mode = v.split(',')[0].trim();
  if (mode === 'fp') {
    if (v.includes(',')) throw new InvalidArgumentError(`--call-graph fp takes no size (got '${v}')`);
    return 'fp';
  }
  if (mode === 'dwarf' || mode === 'lbr') {
    throw new InvalidArgumentError(`--call-graph ${mode} is not supported: kvmlens records frame-pointer call chains only (--call-graph fp, or -g)`);
  }
  throw new InvalidArgumentError(`unknown call graph mode '${mode}' (kvmlens supports fp: frame pointers; -g means fp)`);
}

/** -e is repeatable, each value comma separated (split natively). */
export function collectEvents(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v.trim()) || Number(v) <= 0) throw new InvalidArgumentError(`${name} expects a positive integer, got '${v}'`);
    return Number.parseInt(v, 10);
  };
}

export function recordCommand(globals: () => GlobalOptions): Command {
  const cmd = new Command('record')
    .summary('record a sampling profile into a perf.data file (perf kvm record)')
    .description(
      'Samples cycles (cpu-clock where there is no hardware PMU), or the -e events, and writes a perf.data file that ' +
        '`perf report` and `perf buildid-list` read. Guest samples unless --host (perf kvm\'s default): ' +
        '--guest excludes the host, --host --no-guest excludes the guest, --host alone takes both.',
    )
    .argument('[command...]', 'command to profile (from its exec on, children included) until it exits')
    .option('-o, --output <file>', 'output file (default: perf.data.guest, perf.data.kvm with --host, perf.data.host with --host --no-guest)')
    .option('-a, --all-cpus', 'system-wide collection from all CPUs (the default without a command or -p)')
    .option('-p, --pid <pids>', 'only these processes (comma separated), their threads and new children', parsePidList)
    .option('-e, --event <event>', 'event to sample, as perf record -e (repeatable, comma separated): cpu-clock, ' +
      'page-faults, ... (`perf list`), a tracepoint SUBSYS:NAME, with :u/:k; default cycles, else cpu-clock', collectEvents)
    .option('-F, --freq <hz>', 'samples per second', positiveInt('-F'))
    .option('-c, --count <n>', 'sample every n-th event (a fixed period instead of -F)', positiveInt('-c'))
    .option('-m, --mmap-pages <pages>', 'ring buffer size per CPU: pages (power of two) or size with B/K/M/G', '512')
    .option('-g', 'record call chains (frame pointers), as perf record -g / --call-graph fp')
    .option('--call-graph <mode>', 'call chains: fp (frame pointers; dwarf and lbr are not supported)', callGraphMode)
    .option('-N, --no-buildid-cache', 'do not add the hit DSOs to the build-id cache ($HOME/.debug)');
  addGuestOptions(cmd);
  return cmd
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kvmlens --host record -- ./workload          # perf.data.kvm; then: perf report -i perf.data.kvm\n' +
        '  kvmlens --guestmount=/guests record -a -- sleep 10\n' +
        '  kvmlens --host record -e cpu-clock -e page-faults -- ./workload\n' +
        '  kvmlens --host record -g -- ./workload        # call chains; then: kvmlens --host report (Children, Self)\n' +
        '  kvmlens --host record -e sched:sched_switch -a -- sleep 1   # tracepoints: every hit, raw payload\n' +
        '  kvmlens --host --no-guest record -p $(pidof qemu-system-x86_64)   # Ctrl-C to stop\n',
    )
    .action(async (command: string[], opts: RecordCliOptions) => {
      process.exitCode = await runRecord(command, opts, globals());
    });
}

/** The threads of a process, from /proc/PID/task. */
export function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).filter((t) => /^\d+$/.test(t)).map(Number);
  } catch {
    throw new KvmlensError(`no such process: ${pid}`, 'EARG');
  }
}

/** Whether a process exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Starts COMMAND held before its exec: a shell that waits for one line on
 * fd 3, then execs the command. Events opened on its pid with
 * enable_on_exec start counting at that exec, as perf record's workload.
 */
export function spawnGated(command: string[], stdoutToStderr = false): { child: ChildProcess; release: () => void } {
  const child = spawn('/bin/sh', ['-c', 'read _ <&3; exec 3<&-; exec "$@"', 'sh', ...command], {
    stdio: ['inherit', stdoutToStderr ? 2 : 'inherit', 'inherit', 'pipe'],
  });
  const gate = child.stdio[3] as NodeJS.WritableStream | null;
  return {
    child,
    release: () => {
      gate?.write('\n');
      gate?.end();
    },
  };
}

/**
 * What `record` and `top` sample: everything (system-wide), the threads of
 * `-p` PIDs, or COMMAND, started but held before exec until the events are
 * open (`gated.release()`), so it is counted from its first instruction.
 */
export async function profileTargets(command: string[], pids: number[] | undefined, systemWide: boolean, stdoutToStderr = false) {
  let gated: ReturnType<typeof spawnGated> | undefined;
  let tids: number[] = [];
  let synthPids: number[] = [];
  if (!systemWide && pids) {
    synthPids = pids;
    tids = pids.flatMap(threadsOf);
  } else if (!systemWide) {
    gated = spawnGated(command, stdoutToStderr);
    if (gated.child.pid === undefined) {
      await exitStatus(gated.child, command[0]);
      throw new KvmlensError(`cannot run ${command[0]}`, 'ESETUP');
    }
    tids = [gated.child.pid];
    synthPids = [gated.child.pid];
  }
  return { gated, tids, synthPids };
}

async function runRecord(command: string[], opts: RecordCliOptions, g: GlobalOptions): Promise<number> {
  if (opts.freq !== undefined && opts.count !== undefined) throw new KvmlensError('-F and -c exclude each other', 'EUSAGE');
  const output = opts.output ?? g.output ?? defaultInputFile(g);
  // -o -: perf's pipe mode on standard output; COMMAND's output then goes to stderr, as perf sends it.
  const toPipe = output === '-';
  const { host, guest } = hostGuest(g);
  const guests = guestOptions(opts, g);
  const verbose = opts.verbose === true || g.verbose === true;
  const systemWide = opts.allCpus === true || (command.length === 0 && !opts.pid);

  const { gated, tids, synthPids } = await profileTargets(command, opts.pid, systemWide, toPipe);

  let recorder: ProfileRecorder;
  try {
    recorder = startProfileRecord({
      output,
      systemWide,
      tids,
      synthPids,
      freq: opts.count === undefined ? (opts.freq ?? 4000) : undefined,
      period: opts.count,
      events: opts.event,
      freqGiven: opts.freq !== undefined,
      callchain: opts.g === true || opts.callGraph !== undefined,
      excludeHost: !host,
      excludeGuest: !guest,
      enableOnExec: gated !== undefined,
      mmapPages: opts.mmapPages,
      cmdline: process.argv.slice(1),
      buildidDir: opts.buildidCache ? join(homedir(), '.debug') : undefined,
      ...(guest ? guests : {}), // perf synthesizes guest kernels only when guests are sampled
    });
  } catch (err) {
    gated?.child.kill('SIGKILL');
    throw err;
  }
  // perf falls back to cpu-clock silently; the summary names the event.
  for (const w of recorder.setupWarnings) if (verbose || !/falling back/.test(w)) warn(w);

  const childStatus = await runUntilStopped({
    child: gated?.child,
    command,
    // With -p the recording also ends when every target has exited, as perf's.
    done: () => !systemWide && opts.pid !== undefined && !opts.pid.some(alive),
    release: gated?.release,
    stdoutToStderr: toPipe,
  });
  const result = await recorder.stop();
  const mb = (result.bytes / 1048576).toFixed(3);
  process.stderr.write(`[ kvmlens record: Captured and wrote ${mb} MB ${toPipe ? 'to standard output' : output} (${result.samples} samples of ${recorder.eventName}) ]\n`);
  if (result.lost > 0) warn(`${result.lost} events lost: use a larger -m or a lower -F`);
  if (verbose) {
    for (const b of result.buildIds) process.stderr.write(`kvmlens: build-id ${b.buildId} ${b.name}\n`);
    for (const w of result.warnings) warn(w);
  }
  for (const p of result.cacheProblems) warn(p);
  return childStatus === 127 ? 127 : 0;
}
