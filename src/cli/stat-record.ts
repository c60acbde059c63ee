// `kvmlens stat record`: perf kvm stat record. Records the kvm tracepoints
// into a perf.data file (readable by perf) until COMMAND exits, or until
// SIGINT / SIGTERM when there is no command.
import { Command } from 'commander';
import { startRecord } from '../core/native.ts';
import { defaultInputFile, type GlobalOptions } from './global-options.ts';
import { parsePidList } from './parse.ts';
import { runUntilStopped } from './run-until-stopped.ts';

interface RecordCliOptions {
  output?: string;
  allCpus?: boolean;
  pid?: number[];
  mmapPages: string;
}

export function statRecordCommand(globals: () => GlobalOptions): Command {
  return new Command('record')
    .summary('record kvm events into a perf.data file (perf kvm stat record)')
    .argument('[command...]', 'command to run while recording (record until it exits)')
    .option('-o, --output <file>', 'output file (default: perf.data.guest; also accepted before `stat`)')
    .option('-a, --all-cpus', 'system-wide collection from all CPUs (the default without -p)')
    .option('-p, --pid <pids>', 'only these process IDs (comma separated)', parsePidList)
    .option('-m, --mmap-pages <pages>', 'ring buffer size per CPU: pages (power of two) or size with B/K/M/G', '1024')
    .addHelpText('after', '\nExamples:\n  kvmlens stat record -a -- sleep 10\n  kvmlens stat record -p $(pidof qemu-system-x86_64) -o vm.data   # Ctrl-C to stop\n  kvmlens stat report -i vm.data\n')
    .action(async (command: string[], opts: RecordCliOptions) => {
      process.exitCode = await runStatRecord(command, opts, globals());
    });
}

async function runStatRecord(command: string[], opts: RecordCliOptions, g: GlobalOptions): Promise<number> {
  const output = opts.output ?? g.output ?? defaultInputFile(g);
  const recorder = startRecord({ output, pids: opts.pid, mmapPages: opts.mmapPages, cmdline: process.argv.slice(1) });
  const toPipe = output === '-'; // perf's pipe mode on standard output
  const childStatus = await runUntilStopped({ command, stdoutToStderr: toPipe });
  const result = await recorder.stop();
  const mb = (result.bytes / 1048576).toFixed(3);
  process.stderr.write(`[ kvmlens record: Captured and wrote ${mb} MB ${toPipe ? 'to standard output' : output} (${result.samples} samples) ]\n`);
  if (result.lost > 0) process.stderr.write(`kvmlens: warning: ${result.lost} events lost: use a larger -m\n`);
  return childStatus === 127 ? 127 : 0;
}
