// kvm_mmio_duration_seconds: emulated MMIO accesses (perf kvm stat's mmio analysis).
import type { StickyTopKeys } from '../key-label.ts';
import { ANALYSIS_CODE, type Collector } from './collector.ts';
import { deviceAccessCollector } from './device-access.ts';

export function mmioCollector(gpaTop?: StickyTopKeys): Collector {
  return deviceAccessCollector({
    collector: 'mmio',
    analysis: ANALYSIS_CODE.mmio,
    family: 'kvm_mmio_duration_seconds',
    help: 'Time to emulate an MMIO access, from the exit to the next entry of the same vCPU, by direction.',
    // kvm_mmio's type: 1 = read, 2 = write (as perf's "R"/"W").
    direction: (info) => (info === 2 ? 'write' : 'read'),
    keyLabel: gpaTop && { name: 'gpa', top: gpaTop },
  });
}
