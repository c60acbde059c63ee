// `kvmlens stat live`: perf kvm stat live. Collection runs in native
// threads; every -d seconds we print the interval's table (and reset it, as
// perf does), plus the slow pairs when --duration is set.
import { Command, Option } from 'commander';
import { ANALYSES, startLive, startReplay, type AnalysisName, type LiveSession } from '../core/native.ts';
import { formatPerfTable } from '../report/perf-table.ts';
import { SORT_KEYS, rowsFromColumns, sortRows, type SortKey } from '../report/stat-rows.ts';
import { parseIntOption, parsePidList } from './parse.ts';
import { warn } from './output.ts';

interface LiveOptions {
  display: number;
  allCpus?: boolean;
  pid?: number[];
  vcpu: number;
  event: AnalysisName;
  key: SortKey;
  duration?: number;
  mmapPages: string;
  procMapTimeout: number;
  replay?: string;
  speed: number;
  json?: boolean;
}

export function statLiveCommand(): Command {
  return new Command('live')
    .summary('live kvm event statistics, refreshed every -d seconds (perf kvm stat live)')
    .option('-d, --display <secs>', 'time in seconds between display updates', parseFloatOption('--display'), 1)
    .option('-a, --all-cpus', 'system-wide collection from all CPUs (the default without -p)')
    .option('-p, --pid <pids>', 'only these process IDs (comma separated)', parsePidList)
    .option('--vcpu <n>', 'only this vcpu (default: all vcpus)', parseIntOption('--vcpu'), -1)
    .addOption(new Option('--event <event>', 'event to analyze').choices([...ANALYSES]).default('vmexit'))
    .addOption(new Option('-k, --key <key>', 'sort key (see stat report)').choices([...SORT_KEYS]).default('sample'))
    .option('--duration <usecs>', 'show events other than HLT that take longer than this many µs', parseIntOption('--duration'))
    .option('-m, --mmap-pages <pages>', 'ring buffer size per CPU: pages (power of two) or size with B/K/M/G', '512')
    .option('--proc-map-timeout <ms>', 'accepted for perf compatibility (kvmlens reads no /proc maps)', parseIntOption('--proc-map-timeout'), 500)
    .option('--replay <file>', 'replay a perf.data file as if it were live (demos, machines without KVM)')
    .option('--speed <x>', 'with --replay: pace multiplier (0 = as fast as possible)', parseFloatOption('--speed'), 1)
    .option('--json', 'print one JSON object per interval instead of a table')
    .addHelpText('after', '\nExamples:\n  kvmlens stat live -d 2 --event=ioport\n  kvmlens stat live -p 4242 --duration=500\n  kvmlens stat live --replay perf.data.guest --speed 10\n\nPress q (on a terminal) or Ctrl-C to stop.\n')
    .action(async (opts: LiveOptions) => {
      process.exitCode = await runStatLive(opts);
    });
}

function parseFloatOption(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} expects a non-negative number, got '${v}'`);
    return n;
  };
}

const CONSOLE_CLEAR = '\x1b[H\x1b[2J';

function timeOfDay(): string {
  const now = new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const micros = pad(now.getMilliseconds() * 1000, 6);
  return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${micros}`;
}

async function runStatLive(opts: LiveOptions): Promise<number> {
  const longThresholdNs = opts.duration !== undefined ? opts.duration * 1000 : 0;
  const session: LiveSession = opts.replay
    ? startReplay(opts.replay, { speed: opts.speed, loop: false, longThresholdNs })
    : startLive({ pids: opts.pid, mmapPages: opts.mmapPages, longThresholdNs });
  const interactive = process.stdout.isTTY === true;
  let stopping = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopping = true;
    wake();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const stdinKeys = watchQuitKey(stop);
  let lastLost = 0;
  try {
    while (!stopping) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, opts.display * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      const finished = !session.running;
      printLongEvents(session, opts.event);
      const vcpu = opts.vcpu >= 0 ? opts.vcpu : undefined;
      const rows = sortRows(rowsFromColumns(session.query({ analysis: opts.event, vcpu, pids: opts.pid })), opts.key);
      session.resetStats();
      const lost = session.readStats().lost;
      if (opts.json) {
        const interval = { time: new Date().toISOString(), event: opts.event, lost: lost - lastLost, rows };
        process.stdout.write(`${JSON.stringify(interval, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}\n`);
      } else {
        let out = interactive ? CONSOLE_CLEAR : '';
        out += timeOfDay();
        out += formatPerfTable(rows, { event: opts.event, vcpu, pidList: opts.pid?.join(',') });
        if (lost > lastLost) out += `\nLost events: ${lost - lastLost}\n\n`;
        process.stdout.write(out);
      }
      lastLost = lost;
      if (finished) break;
    }
  } finally {
    stdinKeys.close();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await session.stop();
  }
  const err = session.sourceError();
  if (err) {
    warn(err);
    return 1;
  }
  return 0;
}

/** perf prints the slow pairs of the analyzed event only. */
function printLongEvents(session: LiveSession, event: AnalysisName) {
  const ev = session.takeLongEvents();
  let out = '';
  for (let i = 0; i < ev.length; i++) {
    if (ANALYSES[ev.analysis[i]] !== event) continue;
    out += `${ev.time[i]} VM ${ev.pid[i]}, vcpu ${ev.vcpu[i]}: ${ev.name[i]} event took ${Math.floor(ev.durationNs[i] / 1000)}usec\n`;
  }
  if (ev.dropped > 0) out += `(${ev.dropped} more slow events not shown)\n`;
  if (out) process.stdout.write(out);
}

/** `q` quits when stdin is a terminal; stdin at EOF or a pipe is never read. */
function watchQuitKey(onQuit: () => void) {
  const stdin = process.stdin;
  if (!stdin.isTTY) return { close() {} };
  stdin.setRawMode(true);
  stdin.resume();
  const onData = (buf: Buffer) => {
    const key = buf.toString();
    if (key === 'q' || key === '\u0003') onQuit();
  };
  stdin.on('data', onData);
  return {
    close() {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    },
  };
}
