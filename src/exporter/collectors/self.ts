// kvmlens_*: the exporter about itself -- what the native source read and
// lost, what the series limit cut, and how long building this scrape took
// (node_exporter's node_scrape_collector_* pattern).
import { kvmlensVersion } from '../build-info.ts';
import type { MetricFamily, Sample } from '../families.ts';
import type { SeriesDropCounter } from '../series-budget.ts';
import type { Snapshot } from '../source.ts';

export interface CollectorRun {
  name: string;
  seconds: number;
  success: boolean;
}

export interface SelfState {
  snap: Snapshot;
  sourceKind: string;
  drops: SeriesDropCounter;
  seriesLimit: number;
  runs: CollectorRun[];
  scrapeSeconds: number;
}

function gauge(name: string, help: string, samples: Sample[]): MetricFamily {
  return { type: 'gauge', name, help, samples };
}

function counter(name: string, help: string, samples: Sample[]): MetricFamily {
  return { type: 'counter', name, help, samples };
}

function lostSamples(snap: Snapshot): Sample[] {
  // Live capture knows its losses per CPU ring buffer; a replayed file only
  // has the total of its PERF_RECORD_LOST records.
  if (snap.lostPerCpu.length === 0) return [{ labels: {}, value: snap.read.lost }];
  return Array.from(snap.lostPerCpu, (value, cpu) => ({ labels: { cpu: String(cpu) }, value }));
}

export function selfFamilies(s: SelfState): MetricFamily[] {
  return [
    gauge('kvmlens_build_info', 'kvmlens version and runtime; always 1.', [
      { labels: { version: kvmlensVersion(), node_version: process.version, source: s.sourceKind }, value: 1 },
    ]),
    counter('kvmlens_events_read_total', 'kvm tracepoint events read by the native core.', [
      { labels: {}, value: s.snap.read.kvmEvents },
    ]),
    counter('kvmlens_events_lost_total', 'Events the kernel dropped because a ring buffer was full (per CPU when known).', lostSamples(s.snap)),
    counter('kvmlens_unpaired_events_total', 'Exit or entry events without their partner (e.g. lost or at the edges of the capture).', [
      { labels: {}, value: s.snap.read.unpaired },
    ]),
    counter(
      'kvmlens_series_dropped_total',
      'Label sets left out of scrapes because of --series.limit, summed over scrapes.',
      s.drops.entries(s.runs.map((r) => r.name)).map(([collector, value]) => ({ labels: { collector }, value })),
    ),
    gauge('kvmlens_series_limit', 'Maximum label sets per scrape (--series.limit; 0 = unlimited).', [
      { labels: {}, value: s.seriesLimit },
    ]),
    gauge(
      'kvmlens_scrape_collector_duration_seconds',
      'Time each collector took to build its families in this scrape.',
      s.runs.map((r) => ({ labels: { collector: r.name }, value: r.seconds })),
    ),
    gauge(
      'kvmlens_scrape_collector_success',
      'Whether each collector succeeded in this scrape.',
      s.runs.map((r) => ({ labels: { collector: r.name }, value: r.success ? 1 : 0 })),
    ),
    gauge('kvmlens_scrape_duration_seconds', 'Time the event loop spent planning the families of this render (the native render itself, on the thread pool, is not in it).', [
      { labels: {}, value: s.scrapeSeconds },
    ]),
  ];
}
