// kvm_vm_info: one series per VM process, naming it (QEMU/libvirt name and
// UUID, Firecracker id, KubeVirt namespace and pod), so dashboards can
// join on pid or vm.
import type { MetricFamily, Sample } from '../families.ts';
import type { Collector, ScrapeContext } from './collector.ts';

export function vmInfoCollector(): Collector {
  return {
    name: 'vm_info',
    collect(ctx: ScrapeContext): MetricFamily[] {
      const { rows } = ctx.snap;
      const seen = new Set<number>();
      const samples: Sample[] = [];
      for (let i = 0; i < rows.length; i++) {
        const pid = rows.pid[i];
        if (!ctx.exported[i] || seen.has(pid)) continue;
        seen.add(pid);
        samples.push({ labels: { ...ctx.vms.info(pid) }, value: 1 });
      }
      return [
        {
          type: 'gauge',
          name: 'kvm_vm_info',
          help: 'Identity of a VM process: name, UUID, VMM and, for KubeVirt, namespace and pod UID. Always 1.',
          samples: ctx.budget.admit('vm_info', samples, () => 1),
        },
      ];
    },
  };
}
