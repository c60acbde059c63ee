// The shared shape of the mmio, ioport and msr collectors: a latency
// histogram per VM, vCPU and access direction. The accessed address (GPA,
// port, MSR index) is a label only when asked for, capped at a sticky top N.
import { HistogramBuilder, type Labels, type MetricFamily } from '../families.ts';
import type { StickyTopKeys } from '../key-label.ts';
import { addRow, type Collector, type ScrapeContext } from './collector.ts';

export interface DeviceAccessSpec {
  collector: string;
  analysis: number;
  family: string;
  help: string;
  /** The snapshot's `info` column -> direction label. */
  direction: (info: number) => string;
  /** Name of the opt-in key label, and its sticky top-N state (undefined = off). */
  keyLabel?: { name: string; top: StickyTopKeys };
}

export function deviceAccessCollector(spec: DeviceAccessSpec): Collector {
  return {
    name: spec.collector,
    // The sticky top-N only admits keys it has not seen; with the same rows it sees none.
    plannable: true,
    collect(ctx: ScrapeContext): MetricFamily[] {
      const { rows } = ctx.snap;
      if (spec.keyLabel) {
        const counts = new Map<bigint, number>();
        for (let i = 0; i < rows.length; i++) {
          if (rows.analysis[i] === spec.analysis && ctx.exported[i]) {
            counts.set(rows.key[i], (counts.get(rows.key[i]) ?? 0) + rows.count[i]);
          }
        }
        spec.keyLabel.top.update(counts);
      }
      const builder = new HistogramBuilder(ctx.layout.boundsNs.length + 1);
      for (let i = 0; i < rows.length; i++) {
        if (rows.analysis[i] !== spec.analysis || !ctx.exported[i]) continue;
        const pid = rows.pid[i];
        const vcpu = rows.vcpu[i];
        const direction = spec.direction(rows.info[i]);
        const keyLabel = spec.keyLabel ? spec.keyLabel.top.label(rows.key[i]) : '';
        // vm follows from pid: (pid, vcpu, direction, key label) names the child.
        const child = builder.childFor(`${pid}\u0000${vcpu}\u0000${direction}\u0000${keyLabel}`, () => {
          const labels: Labels = { pid: String(pid), vm: ctx.vms.info(pid).vm, vcpu: String(vcpu), direction };
          if (spec.keyLabel) labels[spec.keyLabel.name] = keyLabel;
          return labels;
        });
        addRow(child, ctx, i);
      }
      return [
        {
          type: 'histogram',
          name: spec.family,
          help: spec.help,
          children: ctx.budget.admit(spec.collector, builder.build(), (c) => c.count),
        },
      ];
    },
  };
}
