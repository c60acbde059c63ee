// `stat report --histogram`: each key's latency distribution as a bar chart,
// log2 bins from the native log-linear buckets (exact counts per bin).
import type { StatRow } from './stat-rows.ts';

function formatNs(ns: number): string {
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return `${+(ns / 1e3).toPrecision(3)}us`;
  if (ns < 1e9) return `${+(ns / 1e6).toPrecision(3)}ms`;
  return `${+(ns / 1e9).toPrecision(3)}s`;
}

export function formatHistograms(rows: StatRow[], barWidth = 40): string {
  let out = '';
  for (const r of rows) {
    out += `\n${r.name}: ${r.count} samples, p50 ${formatNs(r.p50Ns)}, p99 ${formatNs(r.p99Ns)}, max ${formatNs(r.maxNs)}\n`;
    const bins = new Map<number, number>();
    for (const b of r.buckets ?? []) {
      const bin = b.lowerNs === 0 ? 0 : Math.floor(Math.log2(b.lowerNs));
      bins.set(bin, (bins.get(bin) ?? 0) + b.count);
    }
    const keys = [...bins.keys()].sort((a, b) => a - b);
    if (keys.length === 0) continue;
    const peak = Math.max(...bins.values());
    for (let bin = keys[0]; bin <= keys[keys.length - 1]; bin++) {
      const n = bins.get(bin) ?? 0;
      const lo = bin === 0 ? 0 : 2 ** bin;
      const hi = 2 ** (bin + 1);
      const bar = '#'.repeat(Math.round((n / peak) * barWidth));
      out += `${`${formatNs(lo)} .. ${formatNs(hi)}`.padStart(22)} |${bar.padEnd(barWidth)}| ${n}\n`;
    }
  }
  return out;
}
