// perf's hist entries from the native rows: merged by the sort keys and
// ordered as `perf report` orders them (overhead, then each key's sort).
import type { ProfileResult } from './native-profile.ts';

export type SortKey = 'comm' | 'dso' | 'sym' | 'pid';
export const SORT_KEYS: readonly SortKey[] = ['comm', 'dso', 'sym'];

export interface HistEntry {
  event: number;
  comm: string;
  /** undefined: no map, printed "[unknown]". */
  dso?: string;
  /** undefined: unresolved, printed as the address. */
  sym?: string;
  symIsObject: boolean;
  level: string;
  addr: bigint;
  symStart: bigint;
  samples: number;
  period: number;
  first: number;
  /** The current comm length of the entry's first thread (perf's Command column width). */
  commWidth?: number;
  /** Children mode: the samples / period of the stacks holding this entry (itself included). */
  childrenSamples?: number;
  childrenPeriod?: number;
}

export function parseSortKeys(value: string): SortKey[] {
  const keys = value.split(',').map((k) => k.trim()).filter(Boolean);
  const known = new Set<string>(['comm', 'dso', 'sym', 'symbol']);
  for (const k of keys) {
    if (!known.has(k)) throw new Error(`unknown sort key '${k}' (kvmlens sorts by comm, dso, sym)`);
  }
  if (keys.length === 0) throw new Error('--sort needs at least one key');
  return keys.map((k) => (k === 'symbol' ? 'sym' : k)) as SortKey[];
}

/** All rows of one event, as perf's hist entries for `keys`. */
export function histEntries(
  result: ProfileResult,
  event: number,
  keys: readonly SortKey[],
  opts: { mergeUnresolved?: boolean } = {}, // perf diff's collapse: by symbol name, unresolved as one
): HistEntry[] {
  const r = result.rows;
  const s = result.strings;
  const children = result.children && r.group ? { ...result.children, group: r.group } : undefined;
  const useComm = keys.includes('comm');
  const useDso = keys.includes('dso');
  const useSym = keys.includes('sym');
  const merged = new Map<string, HistEntry>();
  for (let i = 0; i < r.length; i++) {
    if (r.event[i] !== event) continue;
    const comm = s[r.comm[i]];
    const dso = r.dso[i] >= 0 ? s[r.dso[i]] : undefined;
    const sym = r.sym[i] >= 0 ? s[r.sym[i]] : undefined;
    // Identity: a resolved symbol is (dso, start); an unresolved one its address.
    // perf diff collapses by name instead: one entry per symbol name of a
    // DSO (two static check_match of ld.so are one), and one for all of its
    // unresolved addresses.
    const symId =
      sym !== undefined ? (opts.mergeUnresolved ? `n:${sym}` : `s${r.symStart[i]}:${sym}`) : opts.mergeUnresolved ? 'a' : `a${r.addr[i]}`;
    // perf's sort__sym_cmp: two unresolved entries compare by address alone,
    // so without the dso key equal addresses in different DSOs are one entry;
    // resolved symbols compare their DSO first.
    const dsoInKey = useDso || (useSym && (sym !== undefined || opts.mergeUnresolved));
    const key = [
      useComm ? comm : '',
      dsoInKey ? (dso ?? '\u0000') : '',
      useSym ? symId : '',
    ].join('\u0001');
    const e = merged.get(key);
    if (e) {
      e.samples += r.samples[i];
      e.period += r.period[i];
      // A symbol's entry shows its first sample's address; the merged
      // unresolved entry of perf diff shows the lowest.
      if (sym === undefined ? r.addr[i] < e.addr : r.first[i] < e.first) e.addr = r.addr[i];
      if (r.first[i] < e.first) {
        e.first = r.first[i];
        e.commWidth = r.commWidth[i];
        // perf's entry keeps the marker it was made with (an unresolved
        // caller's level is not part of its identity).
        if (children) e.level = String.fromCharCode(r.level[i]);
      }
    } else {
      merged.set(key, {
        event,
        comm,
        dso,
        sym,
        symIsObject: r.symIsObject[i] === 1,
        level: String.fromCharCode(r.level[i]),
        addr: r.addr[i],
        symStart: r.symStart[i],
        samples: r.samples[i],
        period: r.period[i],
        first: r.first[i],
        commWidth: r.commWidth[i],
        // Every row of an entry has the same group (the native side keys it as above).
        childrenSamples: children ? children.samples[children.group[i]] : undefined,
        childrenPeriod: children ? children.period[children.group[i]] : undefined,
      });
    }
  }
  return sortEntries([...merged.values()], keys);
}

function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** perf's output order: period descending, then each key (comm, dso by name, sym by name; unknowns last). */
export function sortEntries<T extends HistEntry>(entries: T[], keys: readonly SortKey[], period = (e: T) => e.period): T[] {
  return entries.sort((a, b) => {
    // Children mode: perf sorts by the children's overhead, then the self one.
    const dc = (b.childrenPeriod ?? 0) - (a.childrenPeriod ?? 0);
    if (dc !== 0) return dc;
    const d = period(b) - period(a);
    if (d !== 0) return d;
    for (const k of keys) {
      let c = 0;
      if (k === 'comm') c = strcmp(a.comm, b.comm);
      else if (k === 'dso') {
        if (a.dso === undefined || b.dso === undefined) c = a.dso === b.dso ? 0 : a.dso === undefined ? 1 : -1;
        else c = strcmp(a.dso, b.dso);
      } else if (k === 'sym') {
        if (a.sym === undefined || b.sym === undefined) c = a.sym === b.sym ? 0 : a.sym === undefined ? 1 : -1;
        else c = strcmp(a.sym, b.sym);
      }
      if (c !== 0) return c;
    }
    // perf's remaining order: symbol start, then address, ascending as
    // perf compares them (a signed 64-bit difference: kernel addresses
    // come before user ones).
    const sa = BigInt.asIntN(64, a.symStart), sb = BigInt.asIntN(64, b.symStart);
    if (sa !== sb) return sa < sb ? -1 : 1;
    const aa = BigInt.asIntN(64, a.addr), ab = BigInt.asIntN(64, b.addr);
    return aa < ab ? -1 : aa > ab ? 1 : 0;
  });
}

/** The symbol column: "[k] name", "[.] 0x00000000000014e7", "[k] data+0x10". */
export function symbolText(e: HistEntry): string {
  // perf's "%-#.*llx": printf's # adds no 0x to a zero (a call chain's end).
  if (e.sym === undefined) return `[${e.level}] ${e.addr === 0n ? '' : '0x'}${e.addr.toString(16).padStart(16, '0')}`;
  // Matches perf for kernel data symbols. For a sample inside a user-space
  // object (a table in .text) perf prints an offset mixing two address
  // spaces; kvmlens's differs there (known, and never a code address).
  if (e.symIsObject) return `[${e.level}] ${e.sym}+0x${BigInt.asUintN(64, e.addr - e.symStart).toString(16)}`;
  return `[${e.level}] ${e.sym}`;
}
