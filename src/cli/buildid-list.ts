// `kvmlens buildid-list`: the build-ids a recording carries, as perf buildid-list prints them.
import { Command } from 'commander';
import { loadProfile, reportDataError, symbolSources } from '../profile/load.ts';
import { defaultInputFile, type GlobalOptions } from './global-options.ts';

interface BuildIdOptions {
  input?: string;
  withHits?: boolean;
  json?: boolean;
}

export function buildidListCommand(globals: () => GlobalOptions): Command {
  return new Command('buildid-list')
    .summary('list the build-ids in a recording (perf kvm buildid-list)')
    .description(
      'Prints "BUILDID PATH" for every DSO whose build-id the recording carries (HEADER_BUILD_ID),\n' +
        'as perf kvm buildid-list does; --with-hits only those that had samples (host samples\n' +
        'count with --host, as in perf kvm). Without HEADER_BUILD_ID (pipe input) the DSOs with\n' +
        'samples are listed, their build-id column blank, as perf does.',
    )
    .option('-i, --input <file>', 'input file (default: perf.data.guest; also accepted before `buildid-list`)')
    .option('-H, --with-hits', 'only DSOs with samples')
    .option('--json', 'print JSON: buildId, filename, cpumode, pid and hit of each entry')
    .action(async (opts: BuildIdOptions) => {
      const g = globals();
      const input = opts.input ?? g.input ?? defaultInputFile(g);
      // Hits count the samples perf kvm would show: guest ones, host ones with --host.
      const sources = { ...symbolSources(g, {}), samples: opts.withHits === true || opts.json === true };
      const result = await loadProfile(input, sources, false, true);
      // perf: without HEADER_BUILD_ID (pipes, -B) only DSOs with samples, build-id blank.
      const withHits = opts.withHits === true || !result.buildIds.some((b) => b.fromHeader);
      const rows = result.buildIds.filter((b) => (withHits ? b.hit : b.fromHeader));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ input, buildIds: rows }, null, 2)}\n`);
      } else {
        process.stdout.write(rows.map((b) => `${b.buildId.padEnd(40)} ${b.filename}\n`).join(''));
      }
      process.exitCode = reportDataError(input, result) ? 1 : 0;
    });
}
