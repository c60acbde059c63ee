// --otlp.endpoint: pushes the snapshot every --otlp.interval over OTLP/HTTP
// (protobuf), through the SDK's periodic reader with our MetricProducer.
// The SDK (sdk-push.ts) is imported only once a push starts, so an exporter
// without --otlp.endpoint never loads OpenTelemetry.
import type { Scraper } from '../scraper.ts';
import type { OtlpHistogramKind } from './producer.ts';

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

/**
 * Loads the SDK, then starts pushing. Awaited before the exporter drops privileges
 * (--run-as), so the SDK's files are read with the rights the exporter started with.
 */
export async function startOtlpPush(scraper: Scraper, opts: OtlpPushOptions): Promise<OtlpPush> {
  const { startSdkPush } = await import('./sdk-push.ts');
  return startSdkPush(scraper, opts);
}
