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
        'as perf buildid-list does; --with-hits only those that had samples.',
    )
    .option('-i, --input <file>', 'input file (default: perf.data.guest; also accepted before `buildid-list`)')
    .option('-H, --with-hits', 'only DSOs with samples')
    .option('--json', 'print JSON: buildId, filename, cpumode, pid and hit of each entry')
    .action(async (opts: BuildIdOptions) => {
      const g = globals();
      const input = opts.input ?? g.input ?? defaultInputFile(g);
      // Hits count any sample, host or guest, as perf's buildid-list does.
      const sources = { ...symbolSources(g, {}), host: true, guest: true, samples: opts.withHits === true || opts.json === true };
      const result = await loadProfile(input, sources, false, true);
      const rows = result.buildIds.filter((b) => !opts.withHits || b.hit);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ input, buildIds: rows }, null, 2)}\n`);
      } else {
        process.stdout.write(rows.map((b) => `${b.buildId} ${b.filename}\n`).join(''));
      }
      process.exitCode = reportDataError(input, result) ? 1 : 0;
    });
}
