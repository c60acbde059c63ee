// kvmlens command line: perf kvm's commands and options, plus the exporter.
import { Command, CommanderError } from 'commander';
import { KvmlensError } from '../core/errors.ts';
import { commandPath, normalizeArgv } from './argv.ts';
import type { GlobalOptions } from './global-options.ts';
import { fail } from './output.ts';
import { statReportCommand } from './stat-report.ts';

type CommandFactory = (globals: () => GlobalOptions) => Command;

/**
 * Each command's module, loaded only when that command runs or is listed:
 * the exporter pulls in express, prom-client and OpenTelemetry (~0.2 s of
 * loading), and `stat report` or `report` should start as fast as Node does.
 */
const STAT_COMMANDS: Record<string, () => Promise<CommandFactory>> = {
  record: async () => (await import('./stat-record.ts')).statRecordCommand,
  report: async () => statReportCommand,
  live: async () => { const { statLiveCommand } = await import('./stat-live.ts'); return () => statLiveCommand(); },
};
const COMMANDS: Record<string, () => Promise<CommandFactory>> = {
  record: async () => (await import('./record.ts')).recordCommand,
  top: async () => (await import('./top.ts')).topCommand,
  report: async () => (await import('./report.ts')).reportCommand,
  diff: async () => (await import('./diff.ts')).diffCommand,
  'buildid-list': async () => (await import('./buildid-list.ts')).buildidListCommand,
  exporter: async () => (await import('./exporter.ts')).exporterCommand,
};

/** The names in `table` that `word` selects: that one if it is a command there, else all (help, errors). */
function selected(table: Record<string, unknown>, word: string | undefined): string[] {
  return word !== undefined && word in table ? [word] : Object.keys(table);
}

/**
 * The program with the command that `path` (e.g. ['stat', 'report']) names,
 * or with every command when it names none (`--help`, a typo).
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
  const onlyStat = path[0] === 'stat';
  const statNames = onlyStat ? selected(STAT_COMMANDS, path[1]) : Object.keys(STAT_COMMANDS);
  const names = onlyStat ? [] : selected(COMMANDS, path[0]);
  const [statFactories, factories] = await Promise.all([
    Promise.all(statNames.map((n) => STAT_COMMANDS[n]())),
    Promise.all(names.map((n) => COMMANDS[n]())),
  ]);
  for (const make of statFactories) stat.addCommand(make(globals).exitOverride());
  program.addCommand(stat);
  for (const make of factories) program.addCommand(make(globals).exitOverride());
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
