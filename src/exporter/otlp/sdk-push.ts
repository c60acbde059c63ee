// The OpenTelemetry SDK side of --otlp.endpoint, loaded only when it is set
// (push.ts imports this file lazily: the SDK costs ~8 MB and ~0.1 s at start-up).
import { hostname } from 'node:os';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { kvmlensVersion } from '../build-info.ts';
import type { Scraper } from '../scraper.ts';
import { SnapshotMetricProducer } from './producer.ts';
import { metricsUrl, type OtlpPush, type OtlpPushOptions } from './push.ts';

export function startSdkPush(scraper: Scraper, opts: OtlpPushOptions): OtlpPush {
  const exporter = new OTLPMetricExporter({ url: metricsUrl(opts.endpoint) });
  // The SDK only logs failed exports through its diag logger: report them ourselves.
  const exportBatch = exporter.export.bind(exporter);
  exporter.export = (metrics, done) =>
    exportBatch(metrics, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) opts.onError?.(result.error?.message ?? 'export failed');
      done(result);
    });
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: opts.intervalMs,
    exportTimeoutMillis: Math.min(30_000, opts.intervalMs),
    metricProducers: [new SnapshotMetricProducer(scraper, opts.scale, opts.histograms)],
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'kvmlens',
      'service.version': kvmlensVersion(),
      'host.name': hostname(),
    }),
    readers: [reader],
  });
  return {
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
