// --otlp.endpoint: pushes the snapshot every --otlp.interval over OTLP/HTTP
// (protobuf), through the SDK's periodic reader with our MetricProducer.
import { hostname } from 'node:os';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { kvmlensVersion } from '../build-info.ts';
import type { Scraper } from '../scraper.ts';
import { SnapshotMetricProducer, type OtlpHistogramKind } from './producer.ts';

export interface OtlpPushOptions {
  endpoint: string;
  intervalMs: number;
  scale: number;
  histograms?: OtlpHistogramKind;
  onError?: (message: string) => void;
}

export interface OtlpPush {
  /** Exports now (tests, and a last export at shutdown). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** A base URL (no path) gets the signal path, as OTEL_EXPORTER_OTLP_ENDPOINT does. */
export function metricsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/metrics';
  return url.toString();
}

export function startOtlpPush(scraper: Scraper, opts: OtlpPushOptions): OtlpPush {
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
