// `kvmlens report`: perf kvm report --stdio — overhead per command, shared
// object and symbol, host and guest symbols resolved natively.
import { Command, InvalidArgumentError } from 'commander';
import { histEntries, parseSortKeys, symbolText, type SortKey } from '../profile/hist.ts';
import { loadProfile, reportDataError, symbolSources, warnFiltered } from '../profile/load.ts';
import type { ProfileResult } from '../profile/native-profile.ts';
import { formatReport, sampleCount, type EventSection } from '../profile/report-format.ts';
import { formatTraceTable, traceEntriesByEvent } from '../profile/trace-report.ts';
import { defaultInputFile, type GlobalOptions } from './global-options.ts';
import { warn } from './output.ts';

interface ReportOptions {
  input?: string;
  /** undefined: perf's default, `trace` for a file of tracepoints only, else comm,dso,sym. */
  sort?: SortKey[] | 'trace';
  json?: boolean;
  kallsyms?: string;
  vmlinux?: string;
  buildidDir?: string;
  demangle?: boolean;
  stdio?: boolean;
  children?: boolean;
  callGraph?: string | true;
}

/**
 * perf report's -g / --call-graph print type (graph,0.5,caller by default):
 * kvmlens prints no call graph trees yet, so every type prints as `-g none`;
 * asking for a tree says so once on stderr.
 */
function callGraphOption(v: string): string {
  const type = v.split(',')[0].trim();
  const known = ['graph', 'flat', 'fractal', 'folded', 'none', 'caller', 'callee', 'fp', 'dwarf', 'lbr'];
  if (!known.includes(type) && !/^[\d.]+$/.test(type)) throw new InvalidArgumentError(`unknown call graph print type '${type}' (perf's: graph, flat, fractal, folded, none)`);
  return v;
}

function sortOption(value: string): SortKey[] | 'trace' {
  const keys = value.split(',').map((k) => k.trim()).filter(Boolean);
  if (keys.includes('trace')) {
    if (keys.length > 1) throw new InvalidArgumentError(`kvmlens sorts by trace alone, not with ${keys.filter((k) => k !== 'trace').join(',')}`);
    return 'trace';
  }
  try {
    return parseSortKeys(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function reportCommand(globals: () => GlobalOptions): Command {
  return new Command('report')
    .summary('overhead per command, shared object and symbol (perf kvm report)')
    .description(
      'Reads a profile recorded by `kvmlens record`, `perf kvm record` or `perf record` and prints\n' +
        "perf report --stdio's table. As with perf kvm, guest samples are shown by default and host\n" +
        'samples with --host. Guest kernel symbols come from --guestkallsyms (+ --guestmodules),\n' +
        '--guestvmlinux or --guestmount; host symbols from the build-id cache, /proc/kallsyms and\n' +
        'the ELF files (.symtab, else .dynsym). Unresolvable addresses are printed raw.',
    )
    .option('-i, --input <file>', 'input file (default: perf.data.guest; --host: perf.data.kvm; also accepted before `report`)')
    .option(
      '-s, --sort <keys>',
      'sort by these keys: comm, dso, sym; or trace (the tracepoint text, as perf script formats it). Default: trace when every event is a tracepoint, as perf, else comm,dso,sym',
      sortOption,
    )
    .option('--stdio', 'text output (the default; for compatibility with perf)')
    .option('--json', 'print JSON: every entry with overhead, samples, period, comm, dso and symbol')
    .option('--kallsyms <file>', 'host kernel symbols from this kallsyms file')
    .option('-k, --vmlinux <file>', 'host kernel symbols from this vmlinux')
    .option('--buildid-dir <dir>', 'build-id cache directory (default: ~/.debug, as perf)')
    .option('--children', 'on files with call chains: Children (samples whose stack holds the entry) and Self columns (the default, as perf)')
    .option('--no-children', 'on files with call chains: one Overhead column of the samples themselves')
    .option('-g, --call-graph [type]', "perf's call graph print type; kvmlens prints every type as `-g none` (no call graph trees yet)", callGraphOption)
    .option('--no-demangle', 'C++ symbol names as mangled in the ELF file (demangled by default, as perf)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kvmlens --guestkallsyms=guest.kallsyms --guestmodules=guest.modules report -i perf.data.guest\n' +
        '  kvmlens --host report -i perf.data --sort dso,sym\n' +
        '  kvmlens --host report -i sched.data --sort trace   # what each sched:sched_switch said, counted\n' +
        '  kvmlens --host report -i perf.data.kvm --no-children   # a -g recording, self overhead only\n' +
        '  kvmlens --host --guestvmlinux=vmlinux report --json | jq .events[0].entries[0]\n',
    )
    .action(async (opts: ReportOptions) => {
      process.exitCode = await runReport(opts, globals());
    });
}

async function runReport(opts: ReportOptions, g: GlobalOptions): Promise<number> {
  const input = opts.input ?? g.input ?? defaultInputFile(g);
  const sources = symbolSources(g, opts);
  const keys = opts.sort === undefined || opts.sort === 'trace' ? (['comm', 'dso', 'sym'] as SortKey[]) : opts.sort;
  if (opts.callGraph !== undefined && (opts.callGraph === true || !/^none\b/.test(opts.callGraph))) {
    const asked = opts.callGraph === true ? '-g' : `-g ${opts.callGraph}`;
    warn(`call graph trees (${asked}) are not printed yet: showing -g none`);
  }
  // perf report's children mode: the default on files with call chains.
  const children = opts.children !== false ? { comm: keys.includes('comm'), dso: keys.includes('dso'), sym: keys.includes('sym') } : undefined;
  const trace = opts.sort === 'trace' ? 'only' : opts.sort ? undefined : 'auto';
  const result = await loadProfile(input, { ...sources, trace, children }, g.verbose === true);
  if (result.trace) return printTraceReport(input, opts, result, sources);
  const cumulative = result.children !== undefined;
  const sections: EventSection[] = [];
  result.events.forEach((e, i) => {
    const samples = e.samples + e.filteredSamples;
    if (samples === 0) return; // perf skips events without samples (dummy)
    // Rows that only call chains hold have no samples of their own: entries in children mode only.
    const entries = histEntries(result, i, keys).filter((x) => cumulative || x.samples > 0);
    sections.push({ name: e.name || `event ${i}`, samples, period: e.period + e.filteredPeriod, entries });
  });
  warnFiltered(input, result, sources);
  if (sections.length === 0) warn(`${input}: the recording has no samples`);
  warnLost(input, result);
  if (opts.json) {
    const json = {
      input,
      sortKeys: keys,
      children: cumulative,
      lost: result.lost,
      lostSamples: result.lostSamples,
      events: sections.map((s) => ({
        name: s.name,
        samples: s.samples,
        period: s.period,
        entries: s.entries.map((e) => ({
          overhead: s.period > 0 ? (100 * e.period) / s.period : 0,
          samples: e.samples,
          period: e.period,
          ...(cumulative
            ? {
                children: s.period > 0 ? (100 * (e.childrenPeriod ?? 0)) / s.period : 0,
                childrenSamples: e.childrenSamples ?? 0,
                childrenPeriod: e.childrenPeriod ?? 0,
              }
            : {}),
          comm: keys.includes('comm') ? e.comm : undefined,
          dso: keys.includes('dso') ? (e.dso ?? '[unknown]') : undefined,
          symbol: keys.includes('sym') ? (e.sym ?? null) : undefined,
          level: keys.includes('sym') ? e.level : undefined,
          address: keys.includes('sym') ? `0x${e.addr.toString(16)}` : undefined,
          text: keys.includes('sym') ? symbolText(e) : undefined,
        })),
      })),
      warnings: result.warnings,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(formatReport(sections, keys, result.lostSamples, cumulative));
  }
  return reportDataError(input, result) ? 1 : 0;
}

/** `--sort trace` (or a file of tracepoints only): one table of tracepoint texts per event. */
function printTraceReport(input: string, opts: ReportOptions, result: ProfileResult, sources: ReturnType<typeof symbolSources>): number {
  for (const w of result.trace?.warnings ?? []) warn(`${input}: ${w}`);
  const byEvent = traceEntriesByEvent(result);
  const sections = result.events
    .map((e, i) => ({ e, i, samples: e.samples + e.filteredSamples, period: e.period + e.filteredPeriod }))
    .filter((s) => s.samples > 0)
    .map((s) => ({ ...s, name: s.e.name || `event ${s.i}`, entries: byEvent.get(s.i) ?? [] }));
  warnFiltered(input, result, sources);
  if (sections.length === 0) warn(`${input}: the recording has no samples`);
  warnLost(input, result);
  if (opts.json) {
    const json = {
      input,
      sortKeys: ['trace'],
      lost: result.lost,
      lostSamples: result.lostSamples,
      events: sections.map((s) => ({
        name: s.name,
        samples: s.samples,
        period: s.period,
        entries: s.entries.map((e) => ({ overhead: s.period > 0 ? (100 * e.period) / s.period : 0, samples: e.samples, period: e.period, trace: e.text })),
      })),
      warnings: [...result.warnings, ...(result.trace?.warnings ?? [])],
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return reportDataError(input, result) ? 1 : 0;
  }
  let out = '# To display the perf.data header info, please use --header/--header-only options.\n#\n';
  if (sections.length > 0) {
    out += `#\n# Total Lost Samples: ${result.lostSamples}\n#\n`;
    sections.forEach((s, k) => {
      if (k > 0) out += '\n\n';
      out += `# Samples: ${sampleCount(s.samples)} of event '${s.name}'\n`;
      out += `# Event count (approx.): ${s.period}\n#\n`;
      // perf sizes the column by the samples it added (the shown ones).
      out += formatTraceTable(s.entries, s.e.samples, s.period);
    });
    out += '\n\n';
  }
  process.stdout.write(out);
  return reportDataError(input, result) ? 1 : 0;
}

/** perf report's two warnings about losses while recording, as one line each. */
function warnLost(input: string, result: ProfileResult) {
  const lostEvents = result.lost - result.lostSamples; // LOST records: the ring buffer overflowed
  if (lostEvents > 0) warn(`${input}: ${lostEvents} events were lost while recording (ring buffer overflow): record with a larger -m or a lower -F`);
  if (result.lostSamples > 0) {
    const samples = result.events.reduce((n, e) => n + e.samples + e.filteredSamples, 0) + result.lostSamples;
    warn(`${input}: ${result.lostSamples} samples were lost while recording (${((100 * result.lostSamples) / samples).toFixed(2)}%)`);
  }
}
