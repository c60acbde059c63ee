// `kvmlens top`: perf kvm top. The sampler of `record` feeds report's native
// aggregator live; every -d seconds JS takes the interval's resolved rows,
// folds them into entries that decay by 7/8 per refresh as perf top's do
// (-z: start from zero each time), and prints the table: redrawn in place on
// a terminal, one table per interval otherwise, or one JSON object per
// interval with --json. SIGINT and SIGTERM end it cleanly whatever stdin is;
// on a terminal `q` quits too. Several -e events: each is aggregated and
// shown under its own heading (on a terminal one at a time, E switches, as
// perf top's active event counter).
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
    .option(
      '-e, --event <event>',
      'event to sample, as perf top -e (repeatable, comma separated); every one is shown: in turn on a pipe, one at a time on a terminal (E switches)',
      collectEvents,
    )
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
        '  kvmlens --host top --json -d 5 | jq .entries[0]\n' +
        '  kvmlens --host top -e cpu-clock -e page-faults    # E shows the next event\n\n' +
        'Press q (on a terminal) or Ctrl-C to stop; E shows the next event when there are several.\n',
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

/**
 * On a terminal: q (or Ctrl-C) quits; E shows the next event, as perf top's
 * E ("active event counter") does when several events are sampled.
 */
function watchKeys(onQuit: () => void, onNextEvent: () => void) {
  const stdin = process.stdin;
  // Not a terminal: stdin is never read, so its EOF cannot matter.
  if (!stdin.isTTY) return { close() {} };
  stdin.setRawMode(true);
  stdin.resume();
  const onData = (buf: Buffer) => {
    const key = buf.toString();
    if (key === 'q' || key === 'Q' || key === '\u0003') onQuit();
    else if (key === 'E') onNextEvent();
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

/** One sampled event's decaying entries and the figures of its last interval. */
interface EventView {
  name: string;
  shown: Map<string, Shown>;
  samplesTotal: number;
  filteredWarned: boolean;
  rate: number;
  kernelPct: number;
  intervalSamples: number;
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

  // perf top samples every -e event and shows one at a time on a terminal
  // (E switches); a pipe gets every event's table in turn, JSON all of them.
  const views: EventView[] = [];
  const view = (i: number, name: string): EventView => {
    views[i] ??= { name, shown: new Map(), samplesTotal: 0, filteredWarned: false, rate: 0, kernelPct: 0, intervalSamples: 0 };
    return views[i];
  };
  let active = 0;
  let lostTotal = 0;
  let lastLost = 0;
  const scope = systemWide ? `all, ${cpus().length} CPUs` : `pid(s) ${(opts.pid ?? tids).join(',')}`;
  const rateText = freq !== undefined ? `${freq}Hz ` : `c ${opts.count} `;
  const limit = () => opts.entries ?? (interactive ? Math.max(3, (process.stdout.rows || 24) - 8) : 20);
  const table = (v: EventView) => {
    const entries = sortEntries([...v.shown.values()], keys);
    const total = entries.reduce((sum, e) => sum + e.period, 0);
    const n = limit();
    return { entries, total, visible: n === 0 ? entries : entries.slice(0, n) };
  };
  const textOf = (v: EventView) => {
    const { total, visible } = table(v);
    let out =
      `   PerfTop: ${Math.round(v.rate).toString().padStart(7)} irqs/sec  kernel:${cFixed(v.kernelPct, 1).padStart(4)}%` +
      `  lost: ${lastLost}/${lostTotal}  [${rateText}${v.name}],  (${scope})\n`;
    out += `${'-'.repeat(79)}\n\n`;
    out += formatTable({ name: v.name, samples: v.samplesTotal, period: total, entries: visible }, keys, total);
    return out;
  };
  const draw = () => {
    const v = views[active];
    if (!v) return;
    let out = CONSOLE_CLEAR + textOf(v);
    if (views.length > 1) out += `\n[E] next event (${active + 1}/${views.length}: ${v.name})\n`;
    // Redrawn in place: every line cut to the terminal's width so nothing wraps.
    const width = process.stdout.columns || 80; // 0 on a pty nobody sized
    process.stdout.write(out.split('\n').map((l) => (l.length > width ? l.slice(0, width) : l)).join('\n'));
  };
  const keysWatch = interactive
    ? watchKeys(stop, () => {
        if (views.length < 2) return;
        active = (active + 1) % views.length;
        draw();
      })
    : { close() {} };
  if (gated) {
    gated.child.on('exit', stop);
    gated.release();
  }

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
      lastLost = snap.lost;
      lostTotal += snap.lost;
      const names = snap.events.length > 0 ? snap.events.map((e, i) => e.name || (i === 0 ? live.eventName : `event ${i}`)) : [live.eventName];
      names.forEach((name, i) => {
        const v = view(i, name);
        const event = snap.events[i];
        v.samplesTotal += event ? event.samples + event.filteredSamples : 0;
        if (event && event.filteredSamples > 0 && !v.filteredWarned) {
          v.filteredWarned = true;
          warn(`${event.filteredSamples} ${host ? 'guest' : 'host'} samples of '${name}' are not shown (${host ? 'drop --no-guest' : 'add --host, as with perf kvm'})`);
        }
        // perf top: entries decay by 7/8 each refresh; -z starts over.
        if (opts.zero) v.shown.clear();
        for (const [k, e] of v.shown) {
          e.period = Math.floor((e.period * 7) / 8);
          e.samples = Math.floor((e.samples * 7) / 8);
          if (e.period === 0) v.shown.delete(k);
        }
        let kernel = 0;
        let intervalSamples = 0;
        for (const e of histEntries(snap, i, keys)) {
          intervalSamples += e.samples;
          if (e.level === 'k' || e.level === 'g') kernel += e.samples;
          const key = entryKey(e, keys);
          const s = v.shown.get(key);
          if (s) {
            s.period += e.period;
            s.samples += e.samples;
          } else {
            v.shown.set(key, { ...e, key });
          }
        }
        v.intervalSamples = intervalSamples;
        v.rate = seconds > 0 ? intervalSamples / seconds : 0;
        v.kernelPct = intervalSamples > 0 ? (100 * kernel) / intervalSamples : 0;
      });
      if (opts.json) {
        const eventJson = (v: EventView) => {
          const { total, visible } = table(v);
          return {
            event: v.name,
            samples: v.intervalSamples,
            samplesPerSecond: v.rate,
            kernelPercent: v.kernelPct,
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
        };
        const all = views.map(eventJson);
        // The first event's figures stay at the top level (as before); every
        // event, the first included, is in `events`.
        const { event, samples, samplesPerSecond, kernelPercent, entries } = all[0];
        const out = { time: new Date().toISOString(), event, intervalSeconds: seconds, samples, samplesPerSecond, kernelPercent, lost: snap.lost, entries, events: all };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else if (interactive) {
        draw();
      } else {
        // Every event under its own PerfTop heading, in -e order.
        process.stdout.write(views.map((v) => `${textOf(v)}\n`).join(''));
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
