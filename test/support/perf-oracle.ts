// Real perf as the oracle: runs `perf kvm -i FILE stat report ...` (the
// table is on stderr) and compares its table with kvmlens's.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export function havePerf(): boolean {
  return spawnSync('perf', ['--version']).status === 0 && process.getuid?.() === 0;
}

export function perfReport(file: string, args: string[]): string {
  const r = spawnSync('perf', ['kvm', '-i', file, 'stat', 'report', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`perf kvm stat report ${args.join(' ')} failed: ${r.stderr}`);
  return r.stderr.split('\n').filter((l) => !/^unknown kvm exit code/.test(l)).join('\n');
}

const root = join(import.meta.dirname, '..', '..');
export function kvmlensReport(file: string, args: string[]): string {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'kvmlens.js'), 'stat', 'report', '-i', file, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kvmlens stat report ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export interface ParsedTable {
  lines: string[];     // every line, rows included
  rows: string[];      // the row lines, in printed order
  head: string[];      // lines before the rows
  tail: string[];      // lines after the rows
}

const ROW = /^\s*(\S.*?)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)us\s+([\d.]+)us\s+([\d.]+)us \( \+-\s*([\d.]+)% \)$/;

export function parseTable(text: string): ParsedTable {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => ROW.test(l));
  const rowsEnd = first < 0 ? -1 : lines.findIndex((l, i) => i >= first && !ROW.test(l));
  const rows = first < 0 ? [] : lines.slice(first, rowsEnd);
  const headEnd = first < 0 ? lines.findIndex((l) => l.startsWith('Total Samples')) - 1 : first;
  return { lines, rows, head: lines.slice(0, headEnd), tail: first < 0 ? lines.slice(headEnd) : lines.slice(rowsEnd) };
}

export function rowField(row: string, index: number): string {
  return ROW.exec(row)![index];
}

/** Min Time (column 5) replaced, for --vcpu where perf 6.1 prints 0.00us. */
export function maskMin(row: string): string {
  const m = ROW.exec(row)!;
  return [m[1], m[2], m[3], m[4], 'MIN', m[6], m[7], m[8]].join(' | ');
}

/**
 * Tables agree when the lines around the rows are equal and the rows are
 * equal as a multiset, printed in non-increasing order of the sort key (rows
 * with equal keys may come in any order: perf's order among them is that of
 * its hash table).
 */
export function compareTables(perf: string, ours: string, opts: { sortColumn: number; maskMin?: boolean }): string | undefined {
  const p = parseTable(perf);
  const o = parseTable(ours);
  if (p.head.join('\n') !== o.head.join('\n')) return `header differs:\nperf: ${JSON.stringify(p.head)}\nours: ${JSON.stringify(o.head)}`;
  if (p.tail.join('\n') !== o.tail.join('\n')) return `totals differ:\nperf: ${JSON.stringify(p.tail)}\nours: ${JSON.stringify(o.tail)}`;
  const norm = (rows: string[]) => rows.map((r) => (opts.maskMin ? maskMin(r) : r)).sort();
  const pr = norm(p.rows);
  const or = norm(o.rows);
  if (pr.join('\n') !== or.join('\n')) {
    const missing = pr.filter((r) => !or.includes(r));
    const extra = or.filter((r) => !pr.includes(r));
    return `rows differ:\nonly in perf:\n${missing.join('\n')}\nonly in kvmlens:\n${extra.join('\n')}`;
  }
  const keys = o.rows.map((r) => Number(rowField(r, opts.sortColumn)));
  for (let i = 1; i < keys.length; i++) {
    if (keys[i] > keys[i - 1]) return `kvmlens rows not sorted by column ${opts.sortColumn}: ${o.rows[i - 1]} before ${o.rows[i]}`;
  }
  return undefined;
}
