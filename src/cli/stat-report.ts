// `kvmlens stat report`: perf kvm stat report's table from a perf.data file.
import { Command, Option } from 'commander';
import { ANALYSES, analyzeFile, type AnalysisName, type NativeSession } from '../core/native.ts';
import { buildJsonReport } from '../report/json-report.ts';
import { formatHistograms } from '../report/histogram-view.ts';
import { formatPerfTable } from '../report/perf-table.ts';
import { SORT_KEYS, rowsFromColumns, sortRows, type SortKey, type StatRow } from '../report/stat-rows.ts';
import { parseIntOption, parsePidList } from './parse.ts';
import { progressReporter } from './progress.ts';
import { takeEarlyReport } from './early-report.ts';
import { defaultInputFile, type GlobalOptions } from './global-options.ts';
import { warn } from './output.ts';

interface ReportOptions {
  input?: string;
  event: AnalysisName;
  vcpu: number;
  key: SortKey;
  pid?: number[];
  json?: boolean;
  by?: 'vm' | 'vcpu';
  histogram?: boolean;
  layout: 'perf-6.1' | 'perf-6.4';
}

export function statReportCommand(globals: () => GlobalOptions): Command {
  return new Command('report')
    .summary('report kvm event statistics from a perf.data file (perf kvm stat report)')
    .description(
      'Reads a recording made by `kvmlens stat record` or `perf kvm stat record` and prints\n' +
        "perf kvm stat report's table: samples, share of samples and time, min, max and\n" +
        'mean handling time with its relative standard error, per exit reason / address / port.',
    )
    .option('-i, --input <file>', 'input file (default: perf.data.guest; also accepted before `stat`)')
    .addOption(new Option('--event <event>', 'event to analyze').choices([...ANALYSES]).default('vmexit'))
    .option('--vcpu <n>', 'only events of this vcpu (default: all vcpus)', parseIntOption('--vcpu'), -1)
    .addOption(
      new Option('-k, --key <key>', 'sort key: sample, time (mean), ev_name, max_t, min_t, mean_t, total_t')
        .choices([...SORT_KEYS])
        .default('sample'),
    )
    .option('-p, --pid <pids>', 'only events of these process IDs (comma separated)', parsePidList)
    .option('--json', 'print JSON: every row with count, sum, min, max, mean, stddev, percentiles and per-VM / per-vCPU breakdowns')
    .addOption(new Option('--by <group>', 'one table per VM or per vCPU').choices(['vm', 'vcpu']))
    .option('--histogram', 'draw each key\'s latency distribution after the table')
    .addOption(
      new Option('--layout <layout>', 'table layout: perf 6.1 (key column 20 wide) or perf 6.4+ --stdio (40 wide)')
        .choices(['perf-6.1', 'perf-6.4'])
        .default('perf-6.1'),
    )
    .option('--stdio', 'accepted for compatibility with perf >= 6.4 (kvmlens always prints text)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kvmlens stat report -i perf.data.guest\n' +
        '  kvmlens -i perf.data.guest stat report --event=ioport -k time\n' +
        '  kvmlens stat report --vcpu=0 -p 4242 --json | jq .rows[0]\n',
    )
    .action(async (opts: ReportOptions, cmd: Command) => {
      process.exitCode = await runStatReport(opts, globals(), cmd);
    });
}

async function runStatReport(opts: ReportOptions, g: GlobalOptions, cmd: Command): Promise<number> {
  const input = opts.input ?? g.input ?? defaultInputFile(g);
  const progress = progressReporter(`reading ${input}`);
  const session = await (takeEarlyReport(input, progress.update) ?? analyzeFile(input, progress.update)).finally(
    progress.done,
  );
  const info = session.info();
  if (!info.hasKvmEvents) warn(`${input}: the recording has no kvm events (record with \`kvmlens stat record\`)`);
  const vcpu = opts.vcpu >= 0 ? opts.vcpu : undefined;
  const base = { analysis: opts.event, vcpu, pids: opts.pid } as const;
  const rows = sortRows(rowsFromColumns(session.query({ ...base, groupBy: 'key', buckets: opts.histogram })), opts.key);
  warnUnknownReasons(rows, info.isa);
  const readStats = session.readStats();
  if (readStats.lost > 0) warn(`${input}: ${readStats.lost} events were lost while recording; statistics may miss pairs`);

  if (opts.json) {
    const report = buildJsonReport({
      input,
      event: opts.event,
      sortKey: opts.key,
      vcpu,
      pids: opts.pid,
      info,
      readStats,
      rows,
      byVm: rowsFromColumns(session.query({ ...base, groupBy: 'vm' })),
      byVcpu: rowsFromColumns(session.query({ ...base, groupBy: 'vcpu' })),
    });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const pidList = pidListAsTyped(cmd);
    const keyWidth = opts.layout === 'perf-6.4' ? 40 : 20;
    if (opts.by) {
      process.stdout.write(formatGrouped(session, opts, vcpu, keyWidth));
    } else {
      process.stdout.write(formatPerfTable(rows, { event: opts.event, vcpu, pidList, keyWidth }));
    }
    if (opts.histogram) process.stdout.write(formatHistograms(rows));
  }
  if (info.dataError) {
    const where = info.dataError.offset !== undefined ? `offset ${info.dataError.offset}: ` : '';
    warn(`${input}: ${where}${info.dataError.message} (the report covers the records before it)`);
    return 1;
  }
  return 0;
}

/** perf prints the -p list as the user typed it ("pid(s) 1,2, "). */
function pidListAsTyped(cmd: Command): string | undefined {
  const pids = cmd.getOptionValue('pid') as number[] | undefined;
  return pids ? pids.join(',') : undefined;
}

function formatGrouped(session: NativeSession, opts: ReportOptions, vcpu: number | undefined, keyWidth: number): string {
  const grouped = rowsFromColumns(session.query({ analysis: opts.event, vcpu, pids: opts.pid, groupBy: opts.by }));
  const groups = new Map<string, StatRow[]>();
  for (const r of grouped) {
    const id = opts.by === 'vm' ? `${r.pid}` : `${r.pid}/${r.vcpu}`;
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  let out = '';
  for (const [id, rows] of [...groups].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
    const [pid, groupVcpu] = id.split('/');
    out += formatPerfTable(sortRows(rows, opts.key), {
      event: opts.event,
      pidList: pid,
      vcpu: groupVcpu !== undefined ? Number(groupVcpu) : vcpu,
      keyWidth,
    });
  }
  return out;
}

function warnUnknownReasons(rows: StatRow[], isa: string) {
  for (const r of rows) {
    if (!r.known) warn(`unknown kvm exit code ${r.key} on ${isa || 'unknown ISA'}: shown as ${r.name}`);
  }
}
