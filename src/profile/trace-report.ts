// perf report's `trace` sort key: one entry per distinct tracepoint text
// (the event's print fmt applied to the payload, done natively once per
// distinct payload), ordered and laid out as perf report --stdio prints it.
import type { ProfileResult } from './native-profile.ts';
import { formatPercent } from './report-format.ts';

export interface TraceEntry {
  text: string;
  samples: number;
  period: number;
}

export const TRACE_HEADER = 'Trace output';

/**
 * Every event's entries, in one pass over the rows, in their native order:
 * period descending, then the text in strcmp order of its bytes (perf's
 * sort__trace_cmp), which a JS string comparison would not reproduce for
 * text that is not ASCII.
 */
export function traceEntriesByEvent(result: ProfileResult): Map<number, TraceEntry[]> {
  const out = new Map<number, TraceEntry[]>();
  const t = result.trace;
  if (!t) return out;
  for (let i = 0; i < t.length; i++) {
    let list = out.get(t.event[i]);
    if (!list) out.set(t.event[i], (list = []));
    list.push({ text: t.text[i], samples: t.samples[i], period: t.period[i] });
  }
  return out;
}

/**
 * The column's width as perf 6.1 computes it: perf formats an entry's text
 * lazily, the first time two entries are compared, and sizes the column by
 * the texts formatted by then. An event with a single sample never compares
 * anything, so its column keeps the header's width and the text is cut to it.
 */
export function traceWidth(entries: TraceEntry[], samples: number): number {
  let w = TRACE_HEADER.length;
  if (samples > 1) for (const e of entries) w = Math.max(w, e.text.length);
  return w;
}

export function formatTraceTable(entries: TraceEntry[], samples: number, total: number): string {
  const w = traceWidth(entries, samples);
  let out = `# Overhead  ${TRACE_HEADER.padEnd(Math.min(w, 1023))}\n# ........  ${'.'.repeat(w)}\n#\n`;
  for (const e of entries) {
    const pct = total > 0 ? (100 * e.period) / total : 0;
    out += `  ${formatPercent(pct)}  ${e.text.slice(0, w)}\n`;
  }
  return out;
}
