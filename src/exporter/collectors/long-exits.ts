// kvm_long_exits_total: exits slower than --long-exit-threshold, HLT aside
// (a halted vCPU waiting for an interrupt is idle, not slow) -- what
// `stat live --duration` prints one by one, as a counter.
import type { MetricFamily, Sample } from '../families.ts';
import { ANALYSIS_CODE, type Collector, type ScrapeContext } from './collector.ts';

export function longExitsCollector(keepReason: (reason: string) => boolean, thresholdSeconds: number): Collector {
  return {
    name: 'long_exits',
    collect(ctx: ScrapeContext): MetricFamily[] {
      const { rows } = ctx.snap;
      const samples: Sample[] = [];
      for (let i = 0; i < rows.length; i++) {
        if (rows.analysis[i] !== ANALYSIS_CODE.vmexit || !ctx.exported[i]) continue;
        const reason = rows.name[i];
        if (reason.toLowerCase() === 'hlt' || !keepReason(reason)) continue;
        const pid = rows.pid[i];
        samples.push({
          labels: { pid: String(pid), vm: ctx.vms.info(pid).vm, vcpu: String(rows.vcpu[i]), reason },
          value: rows.longCount[i],
        });
      }
      return [
        {
          type: 'counter',
          name: 'kvm_long_exits_total',
          help: `VM exits other than HLT that took longer than ${thresholdSeconds} seconds (--long-exit-threshold).`,
          samples: ctx.budget.admit('long_exits', samples, (s) => s.value),
        },
      ];
    },
  };
}
