// `kvmlens diff OLD NEW`: perf diff's baseline and delta columns.
import { Command, InvalidArgumentError } from 'commander';
import { diffProfiles, formatDiff } from '../profile/diff.ts';
import { parseSortKeys, symbolText, type SortKey } from '../profile/hist.ts';
import { loadProfile, reportDataError, symbolSources, warnFiltered } from '../profile/load.ts';
import type { GlobalOptions } from './global-options.ts';
import { KvmlensError } from '../core/errors.ts';

interface DiffOptions {
  sort: SortKey[];
  json?: boolean;
  kallsyms?: string;
  vmlinux?: string;
  buildidDir?: string;
}

export function diffCommand(globals: () => GlobalOptions): Command {
  return new Command('diff')
    .summary('compare two profiles (perf kvm diff)')
    .description(
      'Pairs the entries of two profiles by shared object and symbol and prints the old overhead\n' +
        '(Baseline) and the change in percentage points (Delta Abs), largest change first, as\n' +
        '`perf kvm diff OLD NEW` does (guest samples; host samples with --host). Without files:\n' +
        "perf.data.old and perf.data (perf diff's default).",
    )
    .argument('[old]', 'baseline profile')
    .argument('[new]', 'profile to compare')
    .option('-s, --sort <keys>', 'pair and sort by these keys: comm, dso, sym', (v: string) => {
      try {
        return parseSortKeys(v);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
    }, ['dso', 'sym'] as SortKey[])
    .option('--stdio', 'text output (the default)')
    .option('--json', 'print JSON: every entry with baseline, delta, dso and symbol')
    .option('--kallsyms <file>', 'host kernel symbols from this kallsyms file')
    .option('-k, --vmlinux <file>', 'host kernel symbols from this vmlinux')
    .option('--buildid-dir <dir>', 'build-id cache directory (default: ~/.debug, as perf)')
    .addHelpText('after', '\nExamples:\n  kvmlens --host diff perf.data.old perf.data\n  kvmlens --guestkallsyms=guest.kallsyms diff before.data after.data --json\n')
    .action(async (oldFile: string | undefined, newFile: string | undefined, opts: DiffOptions) => {
      process.exitCode = await runDiff(oldFile, newFile, opts, globals());
    });
}

async function runDiff(oldArg: string | undefined, newArg: string | undefined, opts: DiffOptions, g: GlobalOptions) {
  if (oldArg !== undefined && newArg === undefined) {
    throw new KvmlensError('diff needs two files, OLD and NEW (or none: perf.data.old perf.data)', 'EUSAGE');
  }
  const oldFile = oldArg ?? 'perf.data.old';
  const newFile = newArg ?? 'perf.data';
  // As perf kvm diff: guest samples by default, host samples with --host.
  const sources = symbolSources(g, opts);
  const oldR = await loadProfile(oldFile, sources, g.verbose === true);
  const newR = await loadProfile(newFile, sources, g.verbose === true);
  warnFiltered(oldFile, oldR, sources);
  warnFiltered(newFile, newR, sources);
  const sections = diffProfiles(oldR, newR, opts.sort);
  if (opts.json) {
    const json = {
      old: oldFile,
      new: newFile,
      sortKeys: opts.sort,
      events: sections.map((s) => ({
        name: s.name,
        entries: s.entries.map((e) => ({
          baseline: e.baseline ?? null,
          delta: e.delta ?? null,
          comm: opts.sort.includes('comm') ? e.comm : undefined,
          dso: e.dso ?? '[unknown]',
          symbol: e.sym ?? null,
          text: symbolText(e),
        })),
      })),
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(formatDiff(sections, opts.sort));
  }
  const bad = reportDataError(oldFile, oldR);
  return reportDataError(newFile, newR) || bad ? 1 : 0;
}
