// `kvmlens buildid-list`: the build-ids a recording carries, as perf buildid-list prints them.
import { closeSync, openSync, readSync } from 'node:fs';
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
      // perf also reads the samples when the file has no HEADER_BUILD_ID (pipe mode, record -B).
      const needHits = opts.withHits === true || opts.json === true || !hasBuildIdHeader(input);
      const sources = { ...symbolSources(g, {}), samples: needHits };
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

/** Whether INPUT is a perf.data file (not pipe mode) whose feature bits include HEADER_BUILD_ID (bit 2). */
function hasBuildIdHeader(input: string): boolean {
  if (input === '-') return false;
  const head = Buffer.alloc(104);
  let fd: number | undefined;
  try {
    fd = openSync(input, 'r');
    if (readSync(fd, head, 0, head.length, 0) < head.length) return false;
  } catch {
    return true; // unreadable: the reader reports it
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (head.toString('latin1', 0, 8) !== 'PERFILE2' || head.readBigUInt64LE(8) !== 104n) return false;
  return (head[72] & 0b100) !== 0;
}
