// `kvmlens exporter`: always-on per-VM / per-vCPU exit latency histograms for
// Prometheus (pull) and OpenTelemetry (push). Flags follow exporter-toolkit
// and node_exporter, so existing scrape configs, web config files and habits
// carry over.
import { Command, InvalidArgumentError, Option } from 'commander';
import { COLLECTOR_NAMES, type CollectorName } from '../exporter/collectors/index.ts';
import {
  DEFAULT_LISTEN_ADDRESS,
  defaultExporterOptions,
  startExporter,
  type ExporterOptions,
} from '../exporter/exporter.ts';
import type { GlobalOptions } from './global-options.ts';
import { warn } from './output.ts';
import { parsePidList } from './parse.ts';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function nonNegative(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} expects a non-negative number, got '${v}'`);
    return n;
  };
}

function integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`${name} expects an integer in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

/** Go-style durations as exporter flags take them: 500us, 1ms, 2s, 5m; a bare number is seconds. */
export function parseDurationSeconds(name: string) {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  return (v: string) => {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)?$/.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name} expects a duration such as 500us, 1ms, 30s or 5m, got '${v}'`);
    return Number(m[1]) * units[m[2] ?? 's'];
  };
}

function bucketList(v: string): number[] {
  const bounds = v.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (bounds.length === 0 || bounds.some((b) => !Number.isFinite(b) || b <= 0)) {
    throw new InvalidArgumentError(`--histogram.buckets expects comma-separated positive seconds, got '${v}'`);
  }
  return bounds;
}

/** Boolean flags in kingpin's spellings: --flag, --flag=true|false, --no-flag. */
function boolFlag(cmd: Command, flag: string, description: string, dflt: boolean) {
  cmd.addOption(
    new Option(`--${flag} [bool]`, `${description} (default: ${dflt}; --no-${flag} to disable)`)
      .argParser((v: string) => {
        if (v === 'true') return true;
        if (v === 'false') return false;
        throw new InvalidArgumentError(`--${flag} expects true or false, got '${v}'`);
      })
      .default(dflt),
  );
  cmd.addOption(new Option(`--no-${flag}`).hideHelp());
}

interface RawOptions {
  [key: string]: unknown;
}

function toExporterOptions(o: RawOptions): ExporterOptions {
  const d = defaultExporterOptions();
  const get = <T>(key: string, fallback: T): T => (o[key] === undefined ? fallback : (o[key] as T));
  const collectors = Object.fromEntries(
    COLLECTOR_NAMES.map((n) => [n, get<boolean>(`collector.${n}`, true)]),
  ) as Record<CollectorName, boolean>;
  return {
    ...d,
    listenAddresses: get<string[]>('web.listenAddress', d.listenAddresses),
    telemetryPath: get('web.telemetryPath', d.telemetryPath),
    webConfigFile: get<string | undefined>('web.config.file', undefined),
    maxRenderAgeSeconds: get('web.maxRenderAge', d.maxRenderAgeSeconds),
    collectors,
    reasonInclude: get<string | undefined>('collector.vmexit.reasonInclude', undefined),
    reasonExclude: get<string | undefined>('collector.vmexit.reasonExclude', undefined),
    seriesLimit: get('series.limit', d.seriesLimit),
    exitedVmTtlSeconds: get('series.exitedVmTtl', d.exitedVmTtlSeconds),
    histogramBucketsSeconds: get('histogram.buckets', d.histogramBucketsSeconds),
    labels: {
      ioportPort: get('label.ioportPort', false),
      mmioGpa: get('label.mmioGpa', false),
      msrIndex: get('label.msrIndex', false),
      topN: get('label.topN', d.labels.topN),
    },
    replay: get<string | undefined>('replay', undefined),
    speed: get('speed', d.speed),
    loop: get('loop', d.loop),
    longExitThresholdSeconds: get('longExitThreshold', d.longExitThresholdSeconds),
    pids: get<number[] | undefined>('pid', undefined),
    mmapPages: get('mmapPages', d.mmapPages),
    procfs: get('path.procfs', d.procfs),
    otlpEndpoint: get<string | undefined>('otlp.endpoint', undefined),
    otlpIntervalSeconds: get('otlp.interval', d.otlpIntervalSeconds),
    otlpExponentialScale: get('otlp.exponentialScale', d.otlpExponentialScale),
    runAs: get<string | undefined>('runAs', undefined),
  };
}

export function exporterCommand(_globals: () => GlobalOptions): Command {
  const cmd = new Command('exporter')
    .summary('serve per-VM / per-vCPU KVM exit latency histograms to Prometheus and OpenTelemetry')
    .description(
      'Captures the kvm tracepoints continuously (or replays a perf.data file) and serves the\n' +
        'aggregated latency histograms on /metrics. Every scrape takes one snapshot of the native\n' +
        'aggregation; no JavaScript runs per event.',
    )
    .option(
      '--web.listen-address <addr>',
      `address to listen on for the web interface and telemetry, repeatable (default: ${DEFAULT_LISTEN_ADDRESS})`,
      collect,
    )
    .option('--web.telemetry-path <path>', 'path under which to expose metrics', '/metrics')
    .option('--web.config.file <file>', 'exporter-toolkit web config (YAML) enabling TLS and/or basic auth')
    .option(
      '--web.max-render-age <duration>',
      'a scrape may get the render of another scrape whose snapshot is at most this old (0 = render every scrape)',
      parseDurationSeconds('--web.max-render-age'),
      1,
    );
  for (const n of COLLECTOR_NAMES) boolFlag(cmd, `collector.${n}`, `enable the ${n} collector`, true);
  cmd
    .option('--collector.vmexit.reason-include <regex>', 'only exit reasons matching this anchored, case-insensitive regex')
    .option('--collector.vmexit.reason-exclude <regex>', 'leave out exit reasons matching this anchored, case-insensitive regex')
    .option('--series.limit <n>', 'maximum label sets per scrape, busiest kept (0 = unlimited)', integer('--series.limit', 0), 10_000)
    .option('--series.exited-vm-ttl <duration>', 'drop the series of a VM this long after its process exited', parseDurationSeconds('--series.exited-vm-ttl'), 300)
    .option('--histogram.buckets <seconds,...>', 'classic bucket bounds in seconds (default: powers of 4 of ns, 2^10 ns to 2^34 ns)', bucketList);
  boolFlag(cmd, 'label.ioport-port', 'add the I/O port as a `port` label on kvm_ioport_duration_seconds', false);
  boolFlag(cmd, 'label.mmio-gpa', 'add the guest physical address as a `gpa` label on kvm_mmio_duration_seconds', false);
  boolFlag(cmd, 'label.msr-index', 'add the MSR index as an `msr` label on kvm_msr_duration_seconds', false);
  cmd
    .option('--label.top-n <n>', 'with --label.*: at most this many distinct values per label, the rest are "other"', integer('--label.top-n', 1, 1000), 10)
    .option('--long-exit-threshold <duration>', 'non-HLT exits slower than this count in kvm_long_exits_total (0 = off)', parseDurationSeconds('--long-exit-threshold'), 0.001)
    .option('--replay <file>', 'replay a perf.data file instead of capturing live (demos, machines without KVM)')
    .option('--speed <x>', 'with --replay: pace multiplier (0 = as fast as possible)', nonNegative('--speed'), 1)
    .option('--loop', 'with --replay: start over at the end of the file')
    .option('-p, --pid <pids>', 'live: only these process IDs (comma separated)', parsePidList)
    .option('-m, --mmap-pages <pages>', 'live: ring buffer size per CPU, pages (power of two) or size with B/K/M/G', '512')
    .option('--path.procfs <dir>', 'procfs mount point, for VM names and liveness', '/proc')
    .option('--otlp.endpoint <url>', 'also push metrics over OTLP/HTTP protobuf to this URL (a bare host:port URL gets /v1/metrics)')
    .option('--otlp.interval <duration>', 'OTLP push interval', parseDurationSeconds('--otlp.interval'), 60)
    .option('--otlp.exponential-scale <n>', 'highest scale of the OTLP exponential histograms (lowered automatically to fit 160 buckets)', integer('--otlp.exponential-scale', -10, 20), 5)
    .option('--run-as <user>', 'after opening the perf events and binding the ports, switch to this user (name or uid)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kvmlens exporter                                    # live, all CPUs, on :9756\n' +
        '  kvmlens exporter --replay perf.data.guest --loop    # demo from a recording\n' +
        '  kvmlens exporter --web.config.file web.yml --run-as nobody\n' +
        '  kvmlens exporter --no-collector.msr --collector.vmexit.reason-exclude "hlt|pause"\n',
    )
    .action(async (raw: RawOptions) => {
      process.exitCode = await runExporter(toExporterOptions(raw));
    });
  return cmd;
}

async function runExporter(opts: ExporterOptions): Promise<number> {
  const exporter = await startExporter(opts, { warn });
  process.stderr.write(
    `kvmlens: exporter listening on ${exporter.addresses.join(', ')} (${opts.replay ? `replaying ${opts.replay}` : 'live capture'}), metrics at ${opts.telemetryPath}\n`,
  );
  // Serve until SIGTERM/SIGINT; then stop capture, close the listeners, exit 0.
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await exporter.stop();
  return 0;
}
