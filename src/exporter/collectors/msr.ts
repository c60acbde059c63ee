// kvm_msr_duration_seconds: RDMSR/WRMSR exits (perf kvm stat's msr analysis).
import type { StickyTopKeys } from '../key-label.ts';
import { ANALYSIS_CODE, type Collector } from './collector.ts';
import { deviceAccessCollector } from './device-access.ts';

export function msrCollector(indexTop?: StickyTopKeys): Collector {
  return deviceAccessCollector({
    collector: 'msr',
    analysis: ANALYSIS_CODE.msr,
    family: 'kvm_msr_duration_seconds',
    help: 'Time to handle an MSR access, from the exit to the next entry of the same vCPU, by direction.',
    // kvm_msr's write flag: 1 = WRMSR, 0 = RDMSR.
    direction: (info) => (info === 1 ? 'write' : 'read'),
    keyLabel: indexTop && { name: 'msr', top: indexTop },
  });
}
