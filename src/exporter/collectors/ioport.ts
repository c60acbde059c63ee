// kvm_ioport_duration_seconds: emulated port I/O (perf kvm stat's ioport analysis).
import type { StickyTopKeys } from '../key-label.ts';
import { ANALYSIS_CODE, type Collector } from './collector.ts';
import { deviceAccessCollector } from './device-access.ts';

export function ioportCollector(portTop?: StickyTopKeys): Collector {
  return deviceAccessCollector({
    collector: 'ioport',
    analysis: ANALYSIS_CODE.ioport,
    family: 'kvm_ioport_duration_seconds',
    help: 'Time to emulate a port I/O instruction, from the exit to the next entry of the same vCPU, by direction.',
    // kvm_pio's rw: 1 = out (perf's POUT), 0 = in (PIN).
    direction: (info) => (info === 1 ? 'out' : 'in'),
    keyLabel: portTop && { name: 'port', top: portTop },
  });
}
