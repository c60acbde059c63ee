// "kvmlens / Overview": the fleet view. Which VMs and exit reasons cost the
// most host time, how latency is distributed, and whether the collector can
// be trusted. Read top to bottom: latency, where the time goes, I/O, long
// exits, collector health.
import { dashboard, type Item } from './grafana.ts';
import { NON_HLT_P99_THRESHOLD_SECONDS, NOT_HLT, busy, heatmap, perSecond, quantile, rate, selfSel, vmSel } from './queries.ts';
import { fleetVariables } from './variables.ts';

export const OVERVIEW_UID = 'kvmlens-overview';

const upMappings = [
  {
    type: 'value',
    options: { '0': { text: 'down', color: 'red', index: 0 }, '1': { text: 'up', color: 'green', index: 1 } },
  },
];

const items: Item[] = [
  { kind: 'row', title: 'Exit latency' },
  {
    kind: 'heatmap',
    title: 'vmexit latency — $vm',
    description:
      'How long does this VM wait for the host to handle an exit, and is that distribution shifting over time? ' +
      'One heatmap per selected VM (all exit reasons, selected vCPUs); each cell is exits per second in one latency bucket.',
    queries: [{ expr: heatmap('kvm_exit_duration_seconds') }],
    unit: 's',
    w: 12,
    h: 8,
    repeat: 'vm',
  },
  {
    kind: 'timeseries',
    title: 'p50 / p99 exit latency by reason',
    description:
      'Which exit reasons are slow, typically (p50) and at the tail (p99)? Interpolated from the histogram buckets, ' +
      'so values are approximate within a bucket. HLT is included: a long HLT is an idle guest, not a problem.',
    queries: [
      { expr: quantile(0.5, 'kvm_exit_duration_seconds', ['reason']), legend: 'p50 {{reason}}' },
      { expr: quantile(0.99, 'kvm_exit_duration_seconds', ['reason']), legend: 'p99 {{reason}}' },
    ],
    unit: 's',
    w: 12,
    h: 8,
  },
  {
    kind: 'timeseries',
    title: 'Exit rate by reason',
    description: 'Why are guests exiting, and how often? Exits per second for each exit reason, summed over the selected VMs and vCPUs.',
    queries: [{ expr: perSecond('kvm_exit_duration_seconds', ['reason']), legend: '{{reason}}' }],
    unit: 'ops',
    w: 12,
    h: 8,
  },
  { kind: 'row', title: 'Where the time goes' },
  {
    kind: 'bargauge',
    title: 'Top VMs by time in exits',
    description:
      'Which VMs make the host spend the most time handling exits? Seconds of exit handling per second ' +
      '(100% = one host CPU busy all the time), top 10, all reasons including HLT.',
    queries: [{ expr: `topk(10, ${busy('kvm_exit_duration_seconds', ['vm'])})`, legend: '{{vm}}' }],
    unit: 'percentunit',
    w: 8,
    h: 8,
  },
  {
    kind: 'bargauge',
    title: 'Top vCPUs by time in exits',
    description:
      'Which individual vCPUs spend the most time in exits? Helps spot one noisy vCPU (a busy device queue, a spinning guest thread) ' +
      'hidden inside a VM total. Top 10, 100% = one host CPU.',
    queries: [{ expr: `topk(10, ${busy('kvm_exit_duration_seconds', ['vm', 'vcpu'])})`, legend: '{{vm}} vcpu {{vcpu}}' }],
    unit: 'percentunit',
    w: 8,
    h: 8,
  },
  {
    kind: 'timeseries',
    title: 'Time in non-HLT exits by reason',
    description:
      'Which exit reasons cost host CPU time, leaving out HLT (idle guests)? Seconds of handling per second by reason: ' +
      'a rising line is overhead worth chasing (EPT violations, I/O, MSR writes).',
    queries: [{ expr: busy('kvm_exit_duration_seconds', ['reason'], NOT_HLT), legend: '{{reason}}' }],
    unit: 'percentunit',
    w: 8,
    h: 8,
  },
  { kind: 'row', title: 'MMIO and port I/O' },
  {
    kind: 'timeseries',
    title: 'MMIO accesses by VM and direction',
    description: 'How much emulated memory-mapped I/O do guests do? MMIO reads and writes per second per VM; each one is a trip to the device model.',
    queries: [{ expr: perSecond('kvm_mmio_duration_seconds', ['vm', 'direction']), legend: '{{vm}} {{direction}}' }],
    unit: 'ops',
    w: 6,
    h: 8,
  },
  {
    kind: 'timeseries',
    title: 'MMIO p99 latency by direction',
    description: 'Is emulated MMIO slow? p99 time from the access to the vCPU re-entering the guest, by read/write.',
    queries: [{ expr: quantile(0.99, 'kvm_mmio_duration_seconds', ['direction']), legend: 'p99 {{direction}}' }],
    unit: 's',
    w: 6,
    h: 8,
  },
  {
    kind: 'timeseries',
    title: 'Port I/O by VM and direction',
    description: 'How much legacy port I/O do guests do? IN/OUT instructions per second per VM (virtio notifications, serial, PCI config).',
    queries: [{ expr: perSecond('kvm_ioport_duration_seconds', ['vm', 'direction']), legend: '{{vm}} {{direction}}' }],
    unit: 'ops',
    w: 6,
    h: 8,
  },
  {
    kind: 'timeseries',
    title: 'Port I/O p99 latency by direction',
    description: 'Is port I/O emulation slow? p99 time from the IN/OUT exit to the vCPU re-entering the guest, by direction.',
    queries: [{ expr: quantile(0.99, 'kvm_ioport_duration_seconds', ['direction']), legend: 'p99 {{direction}}' }],
    unit: 's',
    w: 6,
    h: 8,
  },
  { kind: 'row', title: 'Long exits' },
  {
    kind: 'timeseries',
    title: 'Long non-HLT exits by VM and reason',
    description:
      'Are guests being stalled? Non-HLT exits slower than the exporter\'s --long-exit-threshold (default 1 ms), per second, ' +
      'by VM and reason. Anything sustained here fires KvmlensLongNonHltExits.',
    queries: [{ expr: `sum by (vm, reason) (${rate(vmSel('kvm_long_exits_total', NOT_HLT))})`, legend: '{{vm}} {{reason}}' }],
    unit: 'ops',
    w: 12,
    h: 8,
  },
  {
    kind: 'timeseries',
    title: 'Non-HLT p99 exit latency by VM',
    description:
      'Is any VM near the KvmlensNonHltExitLatencyHigh alert? p99 of all non-HLT exits per VM; the dashed line is the alert threshold.',
    queries: [{ expr: quantile(0.99, 'kvm_exit_duration_seconds', ['vm'], NOT_HLT), legend: '{{vm}}' }],
    unit: 's',
    threshold: NON_HLT_P99_THRESHOLD_SECONDS,
    w: 12,
    h: 8,
  },
  { kind: 'row', title: 'Collector health' },
  {
    kind: 'stat',
    title: 'Exporter up',
    description: 'Is Prometheus able to scrape every kvmlens exporter? One tile per instance; "down" fires KvmlensExporterDown after 5 minutes.',
    queries: [{ expr: 'up{job=~"$job", instance=~"$instance"}', legend: '{{instance}}' }],
    mappings: upMappings,
    threshold: 1,
    w: 6,
    h: 6,
  },
  {
    kind: 'timeseries',
    title: 'Lost events by CPU',
    description:
      'Can the numbers above be trusted? Trace events per second the kernel dropped because a per-CPU ring buffer was full. ' +
      'Any loss means missed or mis-paired exits; raise the buffer size or reduce enabled collectors.',
    queries: [{ expr: `sum by (instance, cpu) (${rate(selfSel('kvmlens_events_lost_total'))})`, legend: '{{instance}} cpu {{cpu}}' }],
    unit: 'ops',
    w: 6,
    h: 6,
  },
  {
    kind: 'timeseries',
    title: 'Scrape duration',
    description:
      'Is scraping the exporter getting slow? The exporter\'s own time to build a scrape (kvmlens_scrape_duration_seconds) ' +
      'and the whole scrape as Prometheus saw it (scrape_duration_seconds).',
    queries: [
      { expr: `max by (instance) (${selfSel('kvmlens_scrape_duration_seconds')})`, legend: 'exporter {{instance}}' },
      { expr: `max by (instance) (${selfSel('scrape_duration_seconds')})`, legend: 'prometheus {{instance}}' },
    ],
    unit: 's',
    w: 6,
    h: 6,
  },
  {
    kind: 'timeseries',
    title: 'Events read, unpaired and series dropped',
    description:
      'Is the collector keeping up and within its limits? Trace events read per second, events that could not be paired ' +
      '(an exit without its entry), and series dropped by the series limit (raise the limit or narrow the labels).',
    queries: [
      { expr: `sum by (instance) (${rate(selfSel('kvmlens_events_read_total'))})`, legend: 'read {{instance}}' },
      { expr: `sum by (instance) (${rate(selfSel('kvmlens_unpaired_events_total'))})`, legend: 'unpaired {{instance}}' },
      { expr: `sum by (instance) (${rate(selfSel('kvmlens_series_dropped_total'))})`, legend: 'dropped {{instance}}' },
    ],
    unit: 'ops',
    w: 6,
    h: 6,
  },
  {
    kind: 'table',
    title: 'Exporter versions',
    description: 'Which kvmlens version and build runs on each host? One row per exporter, from kvmlens_build_info.',
    queries: [{ expr: selfSel('kvmlens_build_info') }],
    w: 24,
    h: 5,
  },
];

export function overviewDashboard(vmDashboardUid: string) {
  return dashboard({
    uid: OVERVIEW_UID,
    title: 'kvmlens / Overview',
    description: 'KVM exit latency across all VMs on the selected hosts, from the kvmlens exporter.',
    variables: fleetVariables,
    items,
    links: [
      {
        title: 'One VM',
        type: 'link',
        url: `/d/${vmDashboardUid}`,
        icon: 'dashboard',
        includeVars: true,
        keepTime: true,
        targetBlank: false,
        tooltip: 'Drill down into one VM (keeps the selected host and time range)',
      },
    ],
  });
}
