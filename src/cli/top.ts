// `kvmlens top`: perf kvm top. The sampler of `record` feeds report's native
// aggregator live; every -d seconds JS takes the interval's resolved rows,
// folds them into entries that decay by 7/8 per refresh as perf top's do
// (-z: start from zero each time), and prints the table: redrawn in place on
// a terminal, one table per interval otherwise, or one JSON object per
// interval with --json. SIGINT and SIGTERM end it cleanly whatever stdin is;
// on a terminal `q` quits too.
import { cpus } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { KvmlensError } from '../core/errors.ts';
import { startProfileLive, type LiveProfile } from '../core/native-profile.ts';
import { histEntries, parseSortKeys, sortEntries, symbolText, type HistEntry, type SortKey } from '../profile/hist.ts';
import { formatTable } from '../profile/report-format.ts';
import { cFixed } from '../report/c-format.ts';
import type { GlobalOptions } from './global-options.ts';
import { addGuestOptions, guestOptions, hostGuest, type GuestOptions } from './guest-options.ts';
import { warn } from './output.ts';
import { parsePidList } from './parse.ts';
import { alive, collectEvents, profileTargets } from './record.ts';

interface TopOptions extends GuestOptions {
  delay: number;
  allCpus?: boolean;
  event?: string[];
  pid?: number[];
  freq?: number;
  count?: number;
  mmapPages: string;
  zero?: boolean;
  entries?: number;
  sort: SortKey[];
  json?: boolean;
  stdio?: boolean;
  kallsyms?: string;
  vmlinux?: string;
  verbose?: boolean;
}

function positiveNumber(name: string, integer: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`${name} expects a positive ${integer ? 'integer' : 'number'}, got '${v}'`);
    return n;
  };
}

function entriesOption(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`-E expects a number of lines (0 = all), got '${v}'`);
  return Number(v);
}

function sortOption(value: string): SortKey[] {
  try {
    return parseSortKeys(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function topCommand(globals: () => GlobalOptions): Command {
  const cmd = new Command('top')
    .summary('live profile, refreshed every -d seconds (perf kvm top)')
    .description(
      'Samples cycles (cpu-clock without a hardware PMU) system-wide, or on -p PID / a COMMAND, and ' +
        'shows the hottest symbols, resolved as `kvmlens report` resolves them. Entries decay by 7/8 ' +
        'at each refresh, as perf top\'s do (-z: each table covers one interval only). Guest samples ' +
        'unless --host, as perf kvm.',
    )
    .argument('[command...]', 'command to profile (from its exec on) until it exits')
    .option('-d, --delay <secs>', 'seconds between refreshes', positiveNumber('-d', false), 2)
    .option('-a, --all-cpus', 'system-wide collection from all CPUs (the default)')
    .option('-p, --pid <pids>', 'only these processes (comma separated)', parsePidList)
    .option('-e, --event <event>', 'event to sample, as perf top -e (repeatable, comma separated; the first is shown)', collectEvents)
    .option('-F, --freq <hz>', 'samples per second (default 4000)', positiveNumber('-F', true))
    .option('-c, --count <n>', 'sample every n-th event instead of -F', positiveNumber('-c', true))
    .option('-m, --mmap-pages <pages>', 'ring buffer size per CPU: pages (power of two) or size with B/K/M/G', '512')
    .option('-z, --zero', 'zero the counts at each refresh instead of decaying them')
    .option('-E, --entries <n>', 'lines to show (default: what fits the terminal, else 20; 0 = all)', entriesOption)
    .option('-s, --sort <keys>', 'sort by these keys: comm, dso, sym', sortOption, ['dso', 'sym'] as SortKey[])
    .option('--stdio', 'text output (the default; for compatibility with perf)')
    .option('--json', 'print one JSON object per refresh instead of a table')
    .option('--kallsyms <file>', 'host kernel symbols from this kallsyms file')
    .option('-k, --vmlinux <file>', 'host kernel symbols from this vmlinux');
  addGuestOptions(cmd);
  return cmd
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kvmlens --host top -d 1\n' +
        '  kvmlens --guestkallsyms=guest.kallsyms --guestmodules=guest.modules top -p $(pidof qemu-system-x86_64)\n' +
        '  kvmlens --host top --json -d 5 | jq .entries[0]\n\nPress q (on a terminal) or Ctrl-C to stop.\n',
    )
    .action(async (command: string[], opts: TopOptions) => {
      process.exitCode = await runTop(command, opts, globals());
    });
}

const CONSOLE_CLEAR = '\x1b[H\x1b[2J';

interface Shown extends HistEntry {
  key: string;
}

/** An entry's identity across intervals: the same fields histEntries merges by. */
function entryKey(e: HistEntry, keys: readonly SortKey[]): string {
  const useSym = keys.includes('sym');
  const sym = e.sym !== undefined ? `s${e.symStart}:${e.sym}` : `a${e.addr}`;
  return [
    keys.includes('comm') ? e.comm : '',
    keys.includes('dso') || useSym ? (e.dso ?? '\u0000') : '',
    useSym ? sym : '',
  ].join('\u0001');
}

function watchQuitKey(onQuit: () => void) {
  const stdin = process.stdin;
  // Not a terminal: stdin is never read, so its EOF cannot matter.
  if (!stdin.isTTY) return { close() {} };
  stdin.setRawMode(true);
  stdin.resume();
  const onData = (buf: Buffer) => {
    const key = buf.toString();
    if (key === 'q' || key === 'Q' || key === '\u0003') onQuit();
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

async function runTop(command: string[], opts: TopOptions, g: GlobalOptions): Promise<number> {
  if (opts.freq !== undefined && opts.count !== undefined) throw new KvmlensError('-F and -c exclude each other', 'EUSAGE');
  const { host, guest } = hostGuest(g);
  const guests = guestOptions(opts, g);
  const verbose = opts.verbose === true || g.verbose === true;
  const systemWide = opts.allCpus === true || (command.length === 0 && !opts.pid);
  const keys = opts.sort;
  const freq = opts.count === undefined ? (opts.freq ?? 4000) : undefined;

  const { gated, tids, synthPids } = await profileTargets(command, opts.pid, systemWide);

  let live: LiveProfile;
  try {
    live = startProfileLive({
      systemWide,
      tids,
      synthPids,
      freq,
      period: opts.count,
      events: opts.event,
      freqGiven: opts.freq !== undefined,
      excludeHost: !host,
      excludeGuest: !guest,
      enableOnExec: gated !== undefined,
      mmapPages: opts.mmapPages,
      host,
      guest,
      kallsyms: opts.kallsyms,
      vmlinux: opts.vmlinux,
      ...(guest ? guests : {}), // perf synthesizes guest kernels only when guests are sampled
    });
  } catch (err) {
    gated?.child.kill('SIGKILL');
    throw err;
  }
  for (const w of live.setupWarnings) if (verbose || !/falling back/.test(w)) warn(w);

  const interactive = process.stdout.isTTY === true && !opts.json;
  let stopping = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopping = true;
    wake();
  };
  const onSignal = () => stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const keysWatch = interactive ? watchQuitKey(stop) : { close() {} };
  if (gated) {
    gated.child.on('exit', stop);
    gated.release();
  }

  const shown = new Map<string, Shown>();
  let lostTotal = 0;
  let samplesTotal = 0;
  const filteredSeen = { n: 0 };
  let last = process.hrtime.bigint();
  try {
    while (!stopping) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, opts.delay * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      const now = process.hrtime.bigint();
      const seconds = Number(now - last) / 1e9;
      last = now;
      const snap = live.snapshot(true);
      for (const w of snap.warnings) warn(w);
      if (verbose) for (const n of snap.notes) warn(n);
      const event = snap.events[0];
      lostTotal += snap.lost;
      samplesTotal += event ? event.samples + event.filteredSamples : 0;
      if (event && event.filteredSamples > 0 && filteredSeen.n === 0) {
        filteredSeen.n = event.filteredSamples;
        warn(`${event.filteredSamples} ${host ? 'guest' : 'host'} samples are not shown (${host ? 'drop --no-guest' : 'add --host, as with perf kvm'})`);
      }
      // perf top: entries decay by 7/8 each refresh; -z starts over.
      if (opts.zero) shown.clear();
      for (const [k, e] of shown) {
        e.period = Math.floor((e.period * 7) / 8);
        e.samples = Math.floor((e.samples * 7) / 8);
        if (e.period === 0) shown.delete(k);
      }
      const delta = histEntries(snap, 0, keys);
      let kernel = 0;
      let intervalSamples = 0;
      for (const e of delta) {
        intervalSamples += e.samples;
        if (e.level === 'k' || e.level === 'g') kernel += e.samples;
        const key = entryKey(e, keys);
        const s = shown.get(key);
        if (s) {
          s.period += e.period;
          s.samples += e.samples;
        } else {
          shown.set(key, { ...e, key });
        }
      }
      const entries = sortEntries([...shown.values()], keys);
      const total = entries.reduce((sum, e) => sum + e.period, 0);
      const rate = seconds > 0 ? intervalSamples / seconds : 0;
      const kernelPct = intervalSamples > 0 ? (100 * kernel) / intervalSamples : 0;
      const limit = opts.entries ?? (interactive ? Math.max(3, (process.stdout.rows || 24) - 8) : 20);
      const visible = limit === 0 ? entries : entries.slice(0, limit);
      if (opts.json) {
        const out = {
          time: new Date().toISOString(),
          event: live.eventName,
          intervalSeconds: seconds,
          samples: intervalSamples,
          samplesPerSecond: rate,
          kernelPercent: kernelPct,
          lost: snap.lost,
          entries: visible.map((e) => ({
            overhead: total > 0 ? (100 * e.period) / total : 0,
            samples: e.samples,
            period: e.period,
            comm: keys.includes('comm') ? e.comm : undefined,
            dso: e.dso ?? '[unknown]',
            symbol: e.sym ?? null,
            level: e.level,
            address: `0x${e.addr.toString(16)}`,
            text: symbolText(e),
          })),
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        const scope = systemWide ? `all, ${cpus().length} CPUs` : `pid(s) ${(opts.pid ?? tids).join(',')}`;
        const rateText = freq !== undefined ? `${freq}Hz ` : `c ${opts.count} `;
        let out = interactive ? CONSOLE_CLEAR : '';
        out +=
          `   PerfTop: ${Math.round(rate).toString().padStart(7)} irqs/sec  kernel:${cFixed(kernelPct, 1).padStart(4)}%` +
          `  lost: ${snap.lost}/${lostTotal}  [${rateText}${live.eventName}],  (${scope})\n`;
        out += `${'-'.repeat(79)}\n\n`;
        out += formatTable({ name: live.eventName, samples: samplesTotal, period: total, entries: visible }, keys, total);
        if (interactive) {
          // Redrawn in place: every line cut to the terminal's width so nothing wraps.
          const width = process.stdout.columns || 80; // 0 on a pty nobody sized
          out = out.split('\n').map((l) => (l.length > width ? l.slice(0, width) : l)).join('\n');
        } else {
          out += '\n';
        }
        process.stdout.write(out);
      }
      if (!live.running) break;
      // -p: done when every target has exited, as perf top.
      if (!systemWide && opts.pid && !opts.pid.some(alive)) break;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    keysWatch.close();
    if (gated && gated.child.exitCode === null && gated.child.signalCode === null) gated.child.kill('SIGTERM');
    await live.stop();
  }
  return 0;
}
