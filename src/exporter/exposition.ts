// Families -> Prometheus text or OpenMetrics, through prom-client. A fresh
// Registry per scrape holds one plain object per family whose get() returns
// the values built from the snapshot: prom-client's registry needs only
// name, help, type and get(), so no prom-client metric (and no per-event
// observe()) is involved.
import { Registry, type Metric, type RegistryContentType } from 'prom-client';
import { cumulative, type ClassicLayout } from './buckets/classic.ts';
import type { HistogramFamily, MetricFamily } from './families.ts';

export const PROMETHEUS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_CONTENT_TYPE: string = Registry.OPENMETRICS_CONTENT_TYPE;

/** Content negotiation: OpenMetrics when the client accepts it (Prometheus does), else text 0.0.4. */
export function negotiateContentType(accept: string | undefined): string {
  return accept && /application\/openmetrics-text/i.test(accept) ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

interface PromValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

function histogramValues(f: HistogramFamily, layout: ClassicLayout): PromValue[] {
  const out: PromValue[] = [];
  const bucket = `${f.name}_bucket`;
  for (const child of f.children) {
    const cum = cumulative(child.slots);
    for (let j = 0; j < layout.le.length; j++) {
      out.push({ metricName: bucket, labels: { ...child.labels, le: layout.le[j] }, value: cum[j] });
    }
    // +Inf is the child's own count, which equals the last cumulative slot.
    out.push({ metricName: bucket, labels: { ...child.labels, le: '+Inf' }, value: child.count });
    out.push({ metricName: `${f.name}_sum`, labels: child.labels, value: child.sumSeconds });
    out.push({ metricName: `${f.name}_count`, labels: child.labels, value: child.count });
  }
  return out;
}

function valuesOf(f: MetricFamily, layout: ClassicLayout): PromValue[] {
  return f.type === 'histogram' ? histogramValues(f, layout) : f.samples;
}

export async function renderExposition(families: MetricFamily[], layout: ClassicLayout, contentType: string): Promise<string> {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(contentType as RegistryContentType);
  for (const f of families) {
    const values = valuesOf(f, layout);
    // The object prom-client's Registry reads; `name` may be rewritten by it
    // (OpenMetrics drops a counter's _total from the family name).
    const metric = { name: f.name, help: f.help, type: f.type, get: async () => ({ name: metric.name, help: f.help, type: f.type, values, aggregator: 'sum' }) };
    registry.registerMetric(metric as unknown as Metric);
  }
  return registry.metrics();
}
