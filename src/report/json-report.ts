// `stat report --json`: every row with its full statistics and, per row,
// the per-VM and per-vCPU breakdowns. Times are integer nanoseconds.
import type { AnalysisName, ReadStats, RecordingInfo } from '../core/native.ts';
import type { StatRow } from './stat-rows.ts';

export interface JsonReportInput {
  input: string;
  event: AnalysisName;
  sortKey: string;
  vcpu?: number;
  pids?: number[];
  info: RecordingInfo;
  readStats: ReadStats;
  rows: StatRow[];
  byVm: StatRow[];
  byVcpu: StatRow[];
}

function sameKey(a: StatRow, b: StatRow) {
  return a.key === b.key && a.info === b.info;
}

function stats(r: StatRow) {
  return {
    samples: r.count,
    sumNs: r.sumNs,
    minNs: r.minNs,
    maxNs: r.maxNs,
    meanNs: r.sumNs / r.count,
    stddevNs: r.stddevNs,
    relStddevPct: r.relStddevPct,
    p50Ns: r.p50Ns,
    p90Ns: r.p90Ns,
    p99Ns: r.p99Ns,
    p999Ns: r.p999Ns,
  };
}

export function buildJsonReport(x: JsonReportInput) {
  const totalSamples = x.rows.reduce((n, r) => n + r.count, 0);
  const totalNs = x.rows.reduce((n, r) => n + r.sumNs, 0);
  return {
    input: x.input,
    event: x.event,
    sortKey: x.sortKey,
    filter: { vcpu: x.vcpu ?? null, pids: x.pids ?? null },
    recording: {
      hostname: x.info.hostname,
      osrelease: x.info.osrelease,
      arch: x.info.arch,
      cpuid: x.info.cpuid,
      isa: x.info.isa,
    },
    totals: { samples: totalSamples, timeNs: totalNs },
    rows: x.rows.map((r) => ({
      name: r.name,
      key: `0x${r.key.toString(16)}`,
      info: r.info,
      ...stats(r),
      samplesPct: totalSamples ? (r.count / totalSamples) * 100 : 0,
      timePct: totalNs ? (r.sumNs / totalNs) * 100 : 0,
      byVm: x.byVm.filter((v) => sameKey(v, r)).map((v) => ({ pid: v.pid, ...stats(v) })),
      byVcpu: x.byVcpu.filter((v) => sameKey(v, r)).map((v) => ({ pid: v.pid, vcpu: v.vcpu, ...stats(v) })),
    })),
    read: x.readStats,
    ...(x.info.dataError ? { dataError: x.info.dataError } : {}),
  };
}
