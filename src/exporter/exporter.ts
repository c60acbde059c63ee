// `kvmlens exporter` assembled: native source -> scraper -> HTTP (and OTLP).
// startExporter() is what the CLI calls and what tests call directly.
import { classicLayout, type ClassicLayout } from './buckets/classic.ts';
import {
  DEFAULT_CLASSIC_BOUNDS_SECONDS,
  isNativeBoundary,
  nativeBoundaryAtOrBelow,
  secondsToNs,
} from './buckets/native-boundaries.ts';
import { buildCollectors, type CollectorName } from './collectors/index.ts';
import { gzipExposition, negotiateContentType, releaseExposition, renderExposition, renderSpec } from './exposition.ts';
import { startOtlpPush, type OtlpPush } from './otlp/push.ts';
import { dropPrivileges } from './run-as.ts';
import { Scraper } from './scraper.ts';
import { openSource, type SnapshotSource } from './source.ts';
import { VmDirectory } from './vm-info/directory.ts';
import { parseListenAddress } from './web/listen-address.ts';
import { RenderCache, type RenderedMetrics } from './web/render-cache.ts';
import { buildApp, listen, requestListener, type RunningServers } from './web/server.ts';
import { loadWebConfig } from './web/web-config.ts';

export const DEFAULT_LISTEN_ADDRESS = ':9756';

export interface ExporterOptions {
  listenAddresses: string[];
  telemetryPath: string;
  webConfigFile?: string;
  /** A scrape may get a render whose snapshot is at most this old; 0 = render per scrape. */
  maxRenderAgeSeconds: number;
  collectors: Record<CollectorName, boolean>;
  reasonInclude?: string;
  reasonExclude?: string;
  /** Max label sets per scrape; 0 = unlimited. */
  seriesLimit: number;
  exitedVmTtlSeconds: number;
  histogramBucketsSeconds: readonly number[];
  labels: { ioportPort: boolean; mmioGpa: boolean; msrIndex: boolean; topN: number };
  replay?: string;
  speed: number;
  loop: boolean;
  longExitThresholdSeconds: number;
  pids?: number[];
  mmapPages: string;
  procfs: string;
  otlpEndpoint?: string;
  otlpIntervalSeconds: number;
  otlpExponentialScale: number;
  runAs?: string;
}

export function defaultExporterOptions(): ExporterOptions {
  return {
    listenAddresses: [DEFAULT_LISTEN_ADDRESS],
    telemetryPath: '/metrics',
    maxRenderAgeSeconds: 1,
    collectors: { vmexit: true, mmio: true, ioport: true, msr: true },
    seriesLimit: 10_000,
    exitedVmTtlSeconds: 300,
    histogramBucketsSeconds: DEFAULT_CLASSIC_BOUNDS_SECONDS,
    labels: { ioportPort: false, mmioGpa: false, msrIndex: false, topN: 10 },
    speed: 1,
    loop: false,
    longExitThresholdSeconds: 0.001,
    mmapPages: '512',
    procfs: '/proc',
    otlpIntervalSeconds: 60,
    otlpExponentialScale: 5,
  };
}

export interface ExporterDeps {
  /** A ready source instead of opening one from the options (tests). */
  source?: SnapshotSource;
  warn?: (message: string) => void;
}

export interface Exporter {
  addresses: string[];
  scraper: Scraper;
  layout: ClassicLayout;
  /** Renders the exposition as a scrape would (single-flight per content type). */
  metrics(accept?: string): Promise<{ contentType: string; body: string }>;
  /** What a scrape gets: the body and, on demand, its gzip (both shared by concurrent scrapes). */
  render(accept?: string, gzip?: boolean): Promise<RenderedMetrics>;
  stop(): Promise<void>;
}

/** Bounds that are not native boundaries are counted up to the boundary below them: say so once. */
function warnInexactBounds(bounds: readonly number[], warn: (m: string) => void) {
  for (const s of bounds) {
    const ns = secondsToNs(s);
    if (!isNativeBoundary(ns)) {
      warn(
        `--histogram.buckets ${s}: not a native bucket boundary; that bucket counts durations below ` +
          `${nativeBoundaryAtOrBelow(ns)} ns (powers of two of nanoseconds are exact)`,
      );
    }
  }
}

export async function startExporter(opts: ExporterOptions, deps: ExporterDeps = {}): Promise<Exporter> {
  const warn = deps.warn ?? ((m: string) => process.stderr.write(`kvmlens: warning: ${m}\n`));
  // Validate everything that can be wrong before opening perf events.
  const addresses = opts.listenAddresses.map(parseListenAddress);
  if (!opts.telemetryPath.startsWith('/') || opts.telemetryPath === '/') {
    throw new Error(`--web.telemetry-path must be an absolute path other than '/', got '${opts.telemetryPath}'`);
  }
  const webConfig = loadWebConfig(opts.webConfigFile);
  const layout = classicLayout(opts.histogramBucketsSeconds, secondsToNs);
  warnInexactBounds(layout.boundsSeconds, warn);
  const collectors = buildCollectors({
    enabled: opts.collectors,
    reasonInclude: opts.reasonInclude,
    reasonExclude: opts.reasonExclude,
    longExitThresholdSeconds: opts.longExitThresholdSeconds,
    labels: opts.labels,
  });

  const source =
    deps.source ??
    openSource({
      replay: opts.replay,
      speed: opts.speed,
      loop: opts.loop,
      longThresholdNs: Math.round(opts.longExitThresholdSeconds * 1e9),
      pids: opts.pids,
      mmapPages: opts.mmapPages,
    });
  let servers: RunningServers | undefined;
  let otlp: OtlpPush | undefined;
  try {
    const vms = new VmDirectory({ hostPids: source.hostPids, procfs: opts.procfs, exitedTtlMs: opts.exitedVmTtlSeconds * 1000 });
    const scraper = new Scraper(source, {
      collectors,
      layout,
      seriesLimit: opts.seriesLimit,
      vms,
      onCollectorError: (name, err) => warn(`collector ${name} failed: ${err instanceof Error ? err.message : err}`),
    });

    // Concurrent scrapes share one render; with --web.max-render-age a
    // render is also reused until its snapshot is that old (render-cache.ts).
    const renders = new RenderCache({
      maxAgeMs: opts.maxRenderAgeSeconds * 1000,
      build: async (contentType, want) => {
        if (source.render) {
          // The collectors plan the children from a snapshot without slots;
          // the native render takes its own snapshot, sums, writes and
          // gzips on libuv's thread pool (render_worker.cc).
          const g = await scraper.gatherAsync(true, false, false);
          const spec = await renderSpec(g.families, layout, contentType, g.snap.rows);
          const r = await source.render({ ...spec, gzip: want.gzip, text: want.text || !want.gzip });
          return { gzip: r.gzip, text: r.text && { chunks: [r.text], length: r.text.length } };
        }
        // In steps, so scrapes served from the kept render meanwhile are not held up by the whole render.
        return renderExposition((await scraper.gatherAsync()).families, layout, contentType, () => new Promise((r) => setImmediate(r)));
      },
      gzip: gzipExposition,
      release: releaseExposition,
    });
    const render = (accept?: string, gzip = true) => renders.get(negotiateContentType(accept), gzip);
    const metrics = async (accept?: string) => {
      const r = await render(accept);
      return { contentType: r.contentType, body: Buffer.concat((await r.body()).chunks).toString('utf8') };
    };

    const handlers = { telemetryPath: opts.telemetryPath, render, notReady: () => source.failure() };
    servers = await listen(requestListener(handlers, webConfig, buildApp(handlers, webConfig)), addresses, webConfig);
    if (opts.otlpEndpoint) {
      otlp = await startOtlpPush(scraper, {
        endpoint: opts.otlpEndpoint,
        intervalMs: opts.otlpIntervalSeconds * 1000,
        scale: opts.otlpExponentialScale,
        onError: (m) => warn(`OTLP export: ${m}`),
      });
    }
    // Last: perf events are open and ports bound, so root is no longer needed.
    if (opts.runAs) dropPrivileges(opts.runAs);

    const running = servers;
    let stopping: Promise<void> | undefined;
    return {
      addresses: running.addresses,
      scraper,
      layout,
      metrics,
      render,
      stop: () =>
        (stopping ??= (async () => {
          await otlp?.shutdown();
          await running.close();
          await source.stop();
        })()),
    };
  } catch (err) {
    await otlp?.shutdown().catch(() => {});
    await servers?.close();
    await source.stop();
    throw err;
  }
}
