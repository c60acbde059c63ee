// perf kvm stat's text table, line for line (tools/perf/builtin-kvm.c
// print_result in perf 6.1): same widths, same rounding, same totals.
import type { AnalysisName } from '../core/native.ts';
import { cFixed, cFixedWidth, cString } from './c-format.ts';
import { EVENT_TITLES, type StatRow } from './stat-rows.ts';

const NSEC_PER_USEC = 1000;

export interface TableOptions {
  event: AnalysisName;
  vcpu?: number;            // --vcpu
  pidList?: string;         // -p as the user wrote it
  keyWidth?: number;        // 20 in perf 6.1, 40 in perf >= 6.4 (--stdio)
  /** Min Time per row. perf 6.1 prints 0.00 with --vcpu; we print the truth. */
}

export function formatPerfTable(rows: StatRow[], opts: TableOptions): string {
  const width = opts.keyWidth ?? 20;
  const totalCount = rows.reduce((n, r) => n + r.count, 0);
  const totalTime = rows.reduce((n, r) => n + r.sumNs, 0);
  const who = opts.pidList !== undefined ? `pid(s) ${opts.pidList}, ` : 'all VMs, ';
  const which = opts.vcpu !== undefined && opts.vcpu >= 0 ? `VCPU ${opts.vcpu}:` : 'all VCPUs:';
  let out = `\n\nAnalyze events for ${who}${which}\n\n`;
  out +=
    `${cString(EVENT_TITLES[opts.event], width)} ` +
    `${cString('Samples', 10)} ${cString('Samples%', 9)} ${cString('Time%', 9)} ` +
    `${cString('Min Time', 11)} ${cString('Max Time', 11)} ${cString('Avg time', 16)} \n\n`;
  for (const r of rows) {
    out +=
      `${cString(r.name, width)} ` +
      `${String(r.count).padStart(10)} ` +
      `${cFixedWidth((r.count / totalCount) * 100, 8, 2)}% ` +
      `${cFixedWidth((r.sumNs / totalTime) * 100, 8, 2)}% ` +
      `${cFixedWidth(r.minNs / NSEC_PER_USEC, 9, 2)}us ` +
      `${cFixedWidth(r.maxNs / NSEC_PER_USEC, 9, 2)}us ` +
      `${cFixedWidth(r.sumNs / r.count / NSEC_PER_USEC, 9, 2)}us ( +-${cFixedWidth(r.relStddevPct, 7, 2)}% )\n`;
  }
  out += `\nTotal Samples:${totalCount}, Total events handled time:${cFixed(totalTime / NSEC_PER_USEC, 2)}us.\n\n`;
  return out;
}
