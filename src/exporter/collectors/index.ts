// The collector registry: which collectors run, built from the flags
// (node_exporter's --collector.NAME / --no-collector.NAME).
import { StickyTopKeys } from '../key-label.ts';
import { reasonFilter, type Collector } from './collector.ts';
import { ioportCollector } from './ioport.ts';
import { longExitsCollector } from './long-exits.ts';
import { mmioCollector } from './mmio.ts';
import { msrCollector } from './msr.ts';
import { vmInfoCollector } from './vm-info.ts';
import { vmexitCollector } from './vmexit.ts';

export const COLLECTOR_NAMES = ['vmexit', 'mmio', 'ioport', 'msr'] as const;
export type CollectorName = (typeof COLLECTOR_NAMES)[number];

export interface CollectorConfig {
  enabled: Record<CollectorName, boolean>;
  reasonInclude?: string;
  reasonExclude?: string;
  /** 0 = long exits are not counted (no kvm_long_exits_total). */
  longExitThresholdSeconds: number;
  labels: { ioportPort: boolean; mmioGpa: boolean; msrIndex: boolean; topN: number };
}

export function buildCollectors(cfg: CollectorConfig): Collector[] {
  const keepReason = reasonFilter(cfg.reasonInclude, cfg.reasonExclude);
  const top = (on: boolean) => (on ? new StickyTopKeys(cfg.labels.topN) : undefined);
  const out: Collector[] = [];
  if (cfg.enabled.vmexit) {
    out.push(vmexitCollector(keepReason));
    if (cfg.longExitThresholdSeconds > 0) out.push(longExitsCollector(keepReason, cfg.longExitThresholdSeconds));
  }
  if (cfg.enabled.mmio) out.push(mmioCollector(top(cfg.labels.mmioGpa)));
  if (cfg.enabled.ioport) out.push(ioportCollector(top(cfg.labels.ioportPort)));
  if (cfg.enabled.msr) out.push(msrCollector(top(cfg.labels.msrIndex)));
  out.push(vmInfoCollector());
  return out;
}
