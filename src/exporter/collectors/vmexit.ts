// kvm_exit_duration_seconds: time from a VM exit to the next entry of the
// same vCPU, per VM, vCPU and exit reason (perf kvm stat's vmexit analysis).
import { HistogramBuilder, type MetricFamily } from '../families.ts';
import { ANALYSIS_CODE, addRow, type Collector, type ScrapeContext } from './collector.ts';

export function vmexitCollector(keepReason: (reason: string) => boolean): Collector {
  return {
    name: 'vmexit',
    plannable: true,
    collect(ctx: ScrapeContext): MetricFamily[] {
      const { rows } = ctx.snap;
      const builder = new HistogramBuilder(ctx.layout.boundsNs.length + 1);
      for (let i = 0; i < rows.length; i++) {
        if (rows.analysis[i] !== ANALYSIS_CODE.vmexit || !ctx.exported[i] || !keepReason(rows.name[i])) continue;
        const pid = rows.pid[i];
        const vcpu = rows.vcpu[i];
        const reason = rows.name[i];
        // vm follows from pid and isa is the recording's: (pid, vcpu, reason) names the child.
        const child = builder.childFor(`${pid}\u0000${vcpu}\u0000${reason}`, () => ({
          pid: String(pid),
          vm: ctx.vms.info(pid).vm,
          vcpu: String(vcpu),
          reason,
          isa: ctx.snap.isa,
        }));
        addRow(child, ctx, i);
      }
      return [
        {
          type: 'histogram',
          name: 'kvm_exit_duration_seconds',
          help: 'Time from a VM exit to the next VM entry of the same vCPU (exit handling latency), by exit reason.',
          children: ctx.budget.admit('vmexit', builder.build(), (c) => c.count),
        },
      ];
    },
  };
}
