// Deterministic kvm event streams shaped like real ones: VMs (pids) with
// vCPU threads, each a sequence of exit -> (pio|mmio|msr)? -> entry, with
// heavy-tailed handling times, threads migrating between CPUs, and the file
// written the way perf writes it: each CPU's buffer drained in turn (so
// records are out of time order across CPUs), with or without
// FINISHED_ROUND between drains.
import { PerfDataWriter, type KvmSample } from './perf-data-writer.ts';

export type Vendor = 'amd' | 'intel';

export interface ScenarioOptions {
  name: string;
  vendor: Vendor;
  seed: number;
  vms: number;
  vcpusPerVm: number;
  exitsPerVcpu: number;
  cpus: number;
  rounds: boolean;
  /** Events of a thread before its first kvm_entry (perf ignores them). */
  leadingExits?: boolean;
  /** Some pairs with zero-length durations and equal timestamps. */
  zeroDurations?: boolean;
}

export const SVM = { io: 0x7b, npf: 0x400, hlt: 0x78, msr: 0x7c, interrupt: 0x60, cpuid: 0x72, vintr: 0x64, pause: 0x77 };
export const VMX = { io: 30, npf: 48, hlt: 12, msr_read: 31, msr_write: 32, interrupt: 1, cpuid: 10, cr: 28, pause: 40 };

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'io_out' | 'io_in' | 'mmio_w' | 'mmio_r' | 'mmio_unsat' | 'msr_r' | 'msr_w' | 'hlt' | 'plain';

export function buildScenario(template: string, o: ScenarioOptions): PerfDataWriter {
  const r = rng(o.seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const isa = o.vendor === 'intel' ? 1 : 2;
  const reasons = o.vendor === 'intel' ? VMX : SVM;
  // Heavy tail: mostly 1-20 µs, sometimes ms.
  const duration = () => {
    const u = r();
    const base = u < 0.9 ? 1000 + r() * 19000 : u < 0.99 ? 20000 + r() * 480000 : 500000 + r() * 4500000;
    return BigInt(Math.round(base));
  };
  const events: KvmSample[] = [];
  const base = 1_000_000_000n;
  for (let vm = 0; vm < o.vms; vm++) {
    const pid = 4000 + 100 * vm;
    for (let v = 0; v < o.vcpusPerVm; v++) {
      const tid = pid + 1 + v;
      let cpu = (vm + v) % o.cpus;
      let t = base + BigInt(Math.floor(r() * 50000));
      const exit = (reason: number) => events.push({ event: 'kvm_exit', time: t, pid, tid, cpu, fields: { exit_reason: reason, isa, vcpu_id: v } });
      const entry = () => events.push({ event: 'kvm_entry', time: t, pid, tid, cpu, fields: { vcpu_id: v } });
      if (o.leadingExits) {
        exit(reasons.io);
        events.push({ event: 'kvm_pio', time: t + 100n, pid, tid, cpu, fields: { rw: 1, port: 0x70, size: 1, count: 1 } });
        t += 5000n;
      }
      entry(); // the thread's first kvm_entry creates its vCPU record
      t += 2000n;
      for (let i = 0; i < o.exitsPerVcpu; i++) {
        if (r() < 0.05) cpu = Math.floor(r() * o.cpus); // migration
        const kind: Kind = pick(['io_out', 'io_out', 'io_in', 'mmio_w', 'mmio_r', 'msr_r', 'msr_w', 'hlt', 'plain', 'plain', 'plain', ...(i % 97 === 5 ? (['mmio_unsat'] as Kind[]) : [])]);
        const d = o.zeroDurations && i % 13 === 0 ? 0n : duration();
        const start = t;
        switch (kind) {
          case 'io_out':
          case 'io_in':
            exit(reasons.io);
            t += d / 3n;
            events.push({ event: 'kvm_pio', time: t, pid, tid, cpu, fields: { rw: kind === 'io_out' ? 1 : 0, port: pick([0x10, 0x11, 0x70, 0x3f8, 0xcf8, 0]), size: 1, count: 1 } });
            break;
          case 'mmio_w':
            exit(reasons.npf);
            t += d / 4n;
            events.push({ event: 'kvm_mmio', time: t, pid, tid, cpu, fields: { type: 2, len: 4, gpa: pick([0xfee00000n, 0xfebf0000n, 0x20000n]), val: 1 } });
            break;
          case 'mmio_r':
          case 'mmio_unsat':
            exit(reasons.npf);
            t += d / 2n;
            events.push({ event: 'kvm_mmio', time: t, pid, tid, cpu, fields: { type: kind === 'mmio_r' ? 1 : 0, len: 4, gpa: pick([0xfee00030n, 0xfebf0004n]), val: 0 } });
            break;
          case 'msr_r':
          case 'msr_w':
            exit(o.vendor === 'intel' ? (kind === 'msr_r' ? VMX.msr_read : VMX.msr_write) : SVM.msr);
            t += d / 5n;
            events.push({ event: 'kvm_msr', time: t, pid, tid, cpu, fields: { write: kind === 'msr_w' ? 1 : 0, ecx: pick([0x6e0, 0x1b, 0x830, 0xc0000080]), data: 0 } });
            break;
          case 'hlt':
            exit(reasons.hlt);
            break;
          default:
            exit(pick([reasons.interrupt, reasons.cpuid, reasons.pause, o.vendor === 'intel' ? VMX.cr : SVM.vintr]));
        }
        t = start + d;
        entry();
        t += 500n + BigInt(Math.floor(r() * 30000));
      }
    }
  }
  // perf's file order: drain every CPU's buffer in turn, time window by window.
  const byCpu = new Map<number, KvmSample[]>();
  for (const e of events) byCpu.set(e.cpu, [...(byCpu.get(e.cpu) ?? []), e]);
  for (const list of byCpu.values()) list.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const end = events.reduce((m, e) => (e.time > m ? e.time : m), 0n);
  const w = new PerfDataWriter(template);
  const windowNs = 2_000_000n;
  const cursors = new Map<number, number>();
  for (let lo = base; lo <= end; lo += windowNs) {
    for (let cpu = 0; cpu < o.cpus; cpu++) {
      const list = byCpu.get(cpu) ?? [];
      let i = cursors.get(cpu) ?? 0;
      while (i < list.length && list[i].time < lo + windowNs) w.sample(list[i++]);
      cursors.set(cpu, i);
    }
    if (o.rounds) w.finishedRound();
  }
  return w;
}

export const SCENARIOS: ScenarioOptions[] = [
  { name: 'amd-small', vendor: 'amd', seed: 1, vms: 1, vcpusPerVm: 2, exitsPerVcpu: 300, cpus: 2, rounds: true },
  { name: 'amd-multi-vm', vendor: 'amd', seed: 2, vms: 3, vcpusPerVm: 3, exitsPerVcpu: 400, cpus: 4, rounds: true, leadingExits: true },
  { name: 'intel-multi-vm', vendor: 'intel', seed: 3, vms: 3, vcpusPerVm: 2, exitsPerVcpu: 400, cpus: 4, rounds: true, leadingExits: true },
  { name: 'amd-no-rounds', vendor: 'amd', seed: 4, vms: 2, vcpusPerVm: 4, exitsPerVcpu: 300, cpus: 4, rounds: false },
  { name: 'amd-zero-durations', vendor: 'amd', seed: 5, vms: 1, vcpusPerVm: 2, exitsPerVcpu: 200, cpus: 2, rounds: true, zeroDurations: true },
];

export const CPUID: Record<Vendor, string> = { amd: 'AuthenticAMD,25,1,1', intel: 'GenuineIntel,6,85,4' };
