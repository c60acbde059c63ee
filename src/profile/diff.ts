// `perf diff OLD NEW`: entries of both profiles paired by shared object and
// symbol; Baseline is OLD's overhead, Delta Abs the change in points,
// ordered by the size of the change (entries only in OLD last).
import { histEntries, sortEntries, symbolText, type HistEntry, type SortKey } from './hist.ts';
import { cFixed } from '../report/c-format.ts';
import type { ProfileResult } from './native-profile.ts';
import { columnHeader, formatPercent, HEADERS } from './report-format.ts';

export interface DiffEntry extends HistEntry {
  /** Percent of OLD's total; undefined when only in NEW. */
  baseline?: number;
  /** NEW percent minus OLD percent; undefined when only in OLD. */
  delta?: number;
}

export interface DiffSection {
  name: string;
  entries: DiffEntry[];
}

function pairKey(e: HistEntry, keys: readonly SortKey[]): string {
  const parts: string[] = [];
  if (keys.includes('comm')) parts.push(e.comm);
  if (keys.includes('dso') || keys.includes('sym')) parts.push(e.dso ?? '\u0000');
  if (keys.includes('sym')) parts.push(e.sym !== undefined ? `s${e.sym}` : 'a');
  return parts.join('\u0001');
}

function eventTotal(r: ProfileResult, i: number): number {
  return r.events[i].period + r.events[i].filteredPeriod;
}

/** One section per event of OLD that has samples, matched to NEW's event of the same name. */
export function diffProfiles(oldR: ProfileResult, newR: ProfileResult, keys: readonly SortKey[]): DiffSection[] {
  const sections: DiffSection[] = [];
  oldR.events.forEach((ev, i) => {
    if (ev.samples + ev.filteredSamples === 0) return;
    const j = newR.events.findIndex((e) => e.name === ev.name && e.samples + e.filteredSamples > 0);
    const oldTotal = eventTotal(oldR, i);
    const base = histEntries(oldR, i, keys, { mergeUnresolved: true });
    const news = j >= 0 ? histEntries(newR, j, keys, { mergeUnresolved: true }) : [];
    const newTotal = j >= 0 ? eventTotal(newR, j) : 0;
    const byKey = new Map<string, HistEntry>();
    for (const e of news) byKey.set(pairKey(e, keys), e);
    const out: DiffEntry[] = [];
    const used = new Set<string>();
    for (const e of base) {
      const k = pairKey(e, keys);
      const pair = byKey.get(k);
      const baseline = oldTotal > 0 ? (e.period * 100) / oldTotal : 0;
      if (pair) {
        used.add(k);
        const now = newTotal > 0 ? (pair.period * 100) / newTotal : 0;
        out.push({ ...e, baseline, delta: now - baseline });
      } else {
        out.push({ ...e, baseline });
      }
    }
    for (const e of news) {
      const k = pairKey(e, keys);
      if (used.has(k)) continue;
      const now = newTotal > 0 ? (e.period * 100) / newTotal : 0;
      out.push({ ...e, period: 0, samples: 0, baseline: undefined, delta: now });
    }
    // Paired entries by |delta|, then the ones only in OLD. perf diff breaks
    // ties in |delta| by the Baseline column (OLD's period, larger first;
    // 0 for entries only in NEW), then by the keys: sort by those first,
    // then stably by |delta|.
    const paired = out.filter((e) => e.delta !== undefined);
    const unpaired = out.filter((e) => e.delta === undefined);
    const byDelta = sortEntries(paired, keys, (e) => e.period).sort((a, b) => Math.abs(b.delta!) - Math.abs(a.delta!));
    sections.push({
      name: ev.name,
      entries: [
        ...byDelta,
        ...sortEntries(unpaired, keys, (e) => e.baseline ?? 0),
      ],
    });
  });
  return sections;
}


export function formatDiff(sections: DiffSection[], keys: readonly SortKey[]): string {
  let out = '';
  for (const s of sections) {
    const w = new Map<SortKey, number>(keys.map((k) => [k, HEADERS[k].length]));
    const grow = (k: SortKey, n: number) => {
      if (w.has(k) && n > w.get(k)!) w.set(k, n);
    };
    for (const e of s.entries) {
      grow('comm', e.comm.length);
      if (e.dso !== undefined) grow('dso', e.dso.length);
      if (e.sym !== undefined) grow('sym', e.sym.length + 4);
      else {
        grow('sym', 22);
        grow('dso', 16);
      }
    }
    out += `# Event '${s.name}'\n#\n# Baseline  Delta Abs`;
    let dots = '# ........  .........';
    for (const k of keys) {
      out += `  ${columnHeader(k, w.get(k)!)}`;
      dots += `  ${'.'.repeat(w.get(k)!)}`;
    }
    out += `\n${dots}\n#\n`;
    for (const e of s.entries) {
      const base = e.baseline !== undefined ? formatPercent(e.baseline) : '';
      const delta = e.delta !== undefined ? `${e.delta >= 0 ? '+' : '-'}${cFixed(Math.abs(e.delta), 2)}%` : '';
      let line = `  ${base.padStart(8)}  ${delta.padStart(9)}`;
      keys.forEach((k, i) => {
        const text = k === 'comm' ? e.comm : k === 'dso' ? (e.dso ?? '[unknown]') : symbolText(e);
        line += `  ${k === 'sym' && i === keys.length - 1 ? text : text.padEnd(w.get(k)!)}`;
      });
      out += `${line}\n`;
    }
  }
  return out;
}
