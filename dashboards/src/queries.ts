// PromQL shared by both dashboards. Every selector filters on the dashboard
// variables with `=~` so "All" (`.*`) and multi-selections (`a|b`) both work.

/** HLT exits are the guest idling, not overhead: SVM spells the reason `hlt`, VMX `HLT`. */
export const NOT_HLT = 'reason!~"hlt|HLT"';

/**
 * The non-HLT p99 latency the KvmlensNonHltExitLatencyHigh alert fires above.
 * Drawn as a line on the latency panels; test/dashboards.test.ts checks it
 * matches dashboards/kvmlens-alerts.yml, so change both together.
 */
export const NON_HLT_P99_THRESHOLD_SECONDS = 0.0005;

/** Selector for kvm_* families, which carry vm and vcpu labels. */
export function vmSel(metric: string, ...extra: string[]) {
  return `${metric}{${['job=~"$job"', 'instance=~"$instance"', 'vm=~"$vm"', 'vcpu=~"$vcpu"', ...extra].join(', ')}}`;
}

/** Selector for the exporter's own kvmlens_* families (per instance, no VM labels). */
export function selfSel(metric: string, ...extra: string[]) {
  return `${metric}{${['job=~"$job"', 'instance=~"$instance"', ...extra].join(', ')}}`;
}

export function rate(selector: string) {
  return `rate(${selector}[$__rate_interval])`;
}

/** q-quantile of a latency histogram family, aggregated by `by` (plus `le`). */
export function quantile(q: number, family: string, by: string[], ...extra: string[]) {
  const labels = [...by, 'le'].join(', ');
  return `histogram_quantile(${q}, sum by (${labels}) (${rate(vmSel(`${family}_bucket`, ...extra))}))`;
}

/** Events per second of a histogram family (its _count), aggregated by `by`. */
export function perSecond(family: string, by: string[], ...extra: string[]) {
  return `sum by (${by.join(', ')}) (${rate(vmSel(`${family}_count`, ...extra))})`;
}

/** Seconds spent per second (its _sum): 1.0 means one host CPU busy handling these events. */
export function busy(family: string, by: string[], ...extra: string[]) {
  return `sum by (${by.join(', ')}) (${rate(vmSel(`${family}_sum`, ...extra))})`;
}

/** Latency distribution for a heatmap: per-bucket rates, summed over everything selected. */
export function heatmap(family: string) {
  return `sum by (le) (${rate(vmSel(`${family}_bucket`))})`;
}
