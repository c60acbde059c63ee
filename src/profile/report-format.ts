// `perf report --stdio`'s text: the header comments and the table with
// perf's column widths (each column as wide as its widest entry).
import { cFixed } from '../report/c-format.ts';
import { symbolText, type HistEntry, type SortKey } from './hist.ts';

/** perf's convert_unit: 4728 -> "4K", 999 -> "999 ". */
export function sampleCount(n: number): string {
  let v = Math.floor(n);
  let unit = ' ';
  for (const u of ['K', 'M', 'G']) {
    if (v > 1000) {
      v = Math.floor(v / 1000);
      unit = u;
    }
  }
  return `${v}${unit}`;
}

export interface EventSection {
  name: string;
  samples: number;
  period: number;
  entries: HistEntry[];
}

export const HEADERS: Record<SortKey, string> = { comm: 'Command', dso: 'Shared Object', sym: 'Symbol', pid: 'Pid' };

function columnText(e: HistEntry, k: SortKey): string {
  if (k === 'comm') return e.comm;
  if (k === 'dso') return e.dso ?? '[unknown]';
  return symbolText(e);
}

/** Column widths as perf's hists__calc_col_len computes them. */
function widths(entries: HistEntry[], keys: readonly SortKey[]): Map<SortKey, number> {
  const w = new Map<SortKey, number>();
  for (const k of keys) w.set(k, HEADERS[k].length);
  const grow = (k: SortKey, n: number) => {
    if (w.has(k) && n > w.get(k)!) w.set(k, n);
  };
  for (const e of entries) {
    // perf: thread__comm_len of the entry's thread, i.e. its comm at the
    // end of the file, which a fork then exec makes differ from the entry's.
    grow('comm', e.commWidth ?? e.comm.length);
    if (e.dso !== undefined) grow('dso', e.dso.length);
    if (e.sym !== undefined) grow('sym', e.sym.length + 4);
    else {
      grow('sym', 16 + 4 + 2);
      grow('dso', 16); // perf widens the dso column for raw addresses
    }
  }
  return w;
}

/**
 * A column's header, padded to its width as perf prints it: perf formats
 * each header into a 1024-byte buffer, so one wider than 1023 characters
 * (a 7 KB demangled V8 template name, say) is cut there; the dots are not.
 */
export function columnHeader(k: SortKey, width: number): string {
  return HEADERS[k].padEnd(Math.min(width, 1023));
}

/** perf's "%6.2f%%": printf's rounding (exact ties to even), not toFixed's (ties up). */
export function formatPercent(v: number): string {
  return `${cFixed(v, 2).padStart(7)}%`;
}

export function formatTable(section: EventSection, keys: readonly SortKey[], total: number, children = false): string {
  const w = widths(section.entries, keys);
  // Children mode (perf report on call chains): Children, then Self.
  let out = children ? '# Children      Self' : `# ${'Overhead'}`;
  let dots = children ? '# ........  ........' : '# ........';
  for (const k of keys) {
    out += `  ${columnHeader(k, w.get(k)!)}`;
    dots += `  ${'.'.repeat(w.get(k)!)}`;
  }
  out += `\n${dots}\n#\n`;
  for (const e of section.entries) {
    const pct = total > 0 ? (100 * e.period) / total : 0;
    let line = `  ${formatPercent(pct)}`;
    if (children) {
      const acc = total > 0 ? (100 * (e.childrenPeriod ?? 0)) / total : 0;
      line = `  ${formatPercent(acc)}${line}`;
    }
    // perf pads every column, except a symbol in the last one.
    keys.forEach((k, i) => {
      // "%-*.*s": a comm longer than the column is cut to it.
      const text = k === 'comm' ? e.comm.slice(0, w.get(k)!) : columnText(e, k);
      line += `  ${k === 'sym' && i === keys.length - 1 ? text : text.padEnd(w.get(k)!)}`;
    });
    out += `${line}\n`;
  }
  return out;
}

/** The whole `perf report --stdio` output (without perf's random tip). */
/** `lostSamples`: LOST_SAMPLES records' counts only, as perf's "Total Lost Samples" (LOST records are not in it). */
export function formatReport(sections: EventSection[], keys: readonly SortKey[], lostSamples: number, children = false): string {
  let out = '# To display the perf.data header info, please use --header/--header-only options.\n#\n';
  if (sections.length === 0) return out; // perf stops here: "the data has no samples"
  out += `#\n# Total Lost Samples: ${lostSamples}\n#\n`;
  sections.forEach((s, i) => {
    if (i > 0) out += '\n\n';
    out += `# Samples: ${sampleCount(s.samples)} of event '${s.name}'\n`;
    out += `# Event count (approx.): ${s.period}\n#\n`;
    out += formatTable(s, keys, s.period, children);
  });
  out += '\n\n';
  return out;
}
