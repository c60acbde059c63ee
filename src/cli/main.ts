// kvmlens command line: perf kvm's commands and options, plus the exporter.
import { Command, CommanderError } from 'commander';
import { KvmlensError } from '../core/errors.ts';
import { commandPath, normalizeArgv } from './argv.ts';
import type { GlobalOptions } from './global-options.ts';
import { fail } from './output.ts';
import { statReportCommand } from './stat-report.ts';

/**
 * The whole program, or, for `path` = stat report, only that command: the
 * other commands' modules (the exporter pulls in express, prom-client and
 * OpenTelemetry, ~0.2 s of loading) are imported only when they can run or
 * be listed, so `stat report` starts as fast as Node does.
 */
export async function buildProgram(path: string[] = []): Promise<Command> {
  const program = new Command('kvmlens')
    .description('KVM exit observability: perf kvm stat compatible reports and an always-on exporter')
    .option('-i, --input <file>', 'input file name (report subcommands)')
    .option('-o, --output <file>', 'output file name (record subcommands)')
    .option('--host', 'collect host side performance profile')
    .option('--guest', 'collect guest side performance profile (default)')
    .option('--no-guest', 'do not collect guest side profile')
    .option('--guestmount <path>', 'guest os root file system mount directory')
    .option('--guestkallsyms <path>', 'guest os /proc/kallsyms file copy')
    .option('--guestmodules <path>', 'guest os /proc/modules file copy')
    .option('--guestvmlinux <path>', 'guest os kernel vmlinux')
    .option('-v, --verbose', 'be more verbose')
    .showHelpAfterError()
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();

  const stat = new Command('stat')
    .summary('kvm event statistics: record, report, live')
    .description('Statistics of KVM events (vmexit, mmio, ioport, msr) as perf kvm stat computes them.')
    .exitOverride();
  if (path[0] === 'stat' && path[1] === 'report') {
    stat.addCommand(statReportCommand(globals).exitOverride());
    program.addCommand(stat);
    return program;
  }
  const [{ statRecordCommand }, { statLiveCommand }, { exporterCommand }] = await Promise.all([
    import('./stat-record.ts'),
    import('./stat-live.ts'),
    import('./exporter.ts'),
  ]);
  stat.addCommand(statRecordCommand(globals).exitOverride());
  stat.addCommand(statReportCommand(globals).exitOverride());
  stat.addCommand(statLiveCommand().exitOverride());
  program.addCommand(stat);
  program.addCommand(exporterCommand(globals).exitOverride());
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const args = normalizeArgv(argv);
  const program = await buildProgram(commandPath(args));
  try {
    await program.parseAsync(args, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors are already printed.
      return err.exitCode;
    }
    if (err instanceof KvmlensError) {
      fail(err.describe());
      return err.code === 'EUSAGE' ? 2 : 1;
    }
    throw err;
  }
}
