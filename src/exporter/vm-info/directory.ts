// Names the VMs behind the pids in a snapshot, and notices when they exit.
// Identity is read once per pid from procfs (a command line does not change);
// liveness is checked at most once per second, however many scrapes come in.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePodCgroup } from './cgroup.ts';
import { parseVmCmdline, splitCmdline, type VmIdentity } from './cmdline.ts';

/** The labels of kvm_vm_info, also the source of every family's `vm` label. */
export interface VmInfo {
  pid: string;
  /** The VM's name when known, else the pid (so `vm` is never empty). */
  vm: string;
  uuid: string;
  namespace: string;
  name: string;
  pod: string;
  pod_uid: string;
  vmm: string;
}

export interface VmDirectoryOptions {
  /** Read /proc for names and liveness (live capture); false for replays. */
  hostPids: boolean;
  procfs: string;
  /** Series of a VM whose process is gone are dropped this long after it went. */
  exitedTtlMs: number;
  now?: () => number;
}

const LIVENESS_INTERVAL_MS = 1000;

export function vmInfoFromIdentity(pid: number, id: VmIdentity | undefined, podUid?: string): VmInfo {
  // KubeVirt names the libvirt domain `namespace_name`; namespaces are DNS
  // labels without '_', so the first '_' splits them. Only inside a pod,
  // though: elsewhere '_' is just part of a name.
  let name = id?.name ?? '';
  let namespace = '';
  if (podUid && id?.libvirt && name.includes('_')) {
    namespace = name.slice(0, name.indexOf('_'));
    name = name.slice(name.indexOf('_') + 1);
  }
  return {
    pid: String(pid),
    vm: name || String(pid),
    uuid: id?.uuid ?? '',
    namespace,
    name,
    pod: '',
    pod_uid: podUid ?? '',
    vmm: id?.vmm ?? '',
  };
}

export class VmDirectory {
  private readonly known = new Map<number, VmInfo>();
  /** pid -> when it was first seen gone. */
  private readonly goneSince = new Map<number, number>();
  private lastLivenessCheck = -Infinity;
  private readonly now: () => number;
  /** Goes up whenever a known pid's identity is dropped (so labels made from it may be stale). */
  version = 0;

  constructor(private readonly opts: VmDirectoryOptions) {
    this.now = opts.now ?? Date.now;
  }

  info(pid: number): VmInfo {
    let info = this.known.get(pid);
    if (!info) {
      info = this.opts.hostPids ? this.readProc(pid) : vmInfoFromIdentity(pid, undefined);
      this.known.set(pid, info);
    }
    return info;
  }

  /**
   * Call once per scrape with the snapshot's pids: updates liveness and
   * forgets pids the snapshot no longer has (keeps memory bounded by it).
   */
  refresh(pids: Set<number>) {
    for (const pid of this.known.keys()) {
      if (!pids.has(pid)) {
        this.known.delete(pid);
        this.version++;
      }
    }
    for (const pid of this.goneSince.keys()) if (!pids.has(pid)) this.goneSince.delete(pid);
    if (!this.opts.hostPids) return;
    const now = this.now();
    if (now - this.lastLivenessCheck < LIVENESS_INTERVAL_MS) return;
    this.lastLivenessCheck = now;
    for (const pid of pids) {
      if (existsSync(join(this.opts.procfs, String(pid)))) {
        // Back after being gone: a new process reusing the pid, so read its identity anew.
        if (this.goneSince.delete(pid)) {
          this.known.delete(pid);
          this.version++;
        }
      } else if (!this.goneSince.has(pid)) {
        this.goneSince.set(pid, now);
      }
    }
  }

  /** Whether a pid's series should no longer be exported. */
  expired(pid: number): boolean {
    const since = this.goneSince.get(pid);
    return since !== undefined && this.now() - since >= this.opts.exitedTtlMs;
  }

  private readProc(pid: number): VmInfo {
    const dir = join(this.opts.procfs, String(pid));
    const read = (file: string) => {
      try {
        return readFileSync(join(dir, file), 'utf8');
      } catch {
        return ''; // gone, or hidden (hidepid): fall back to the pid
      }
    };
    const identity = parseVmCmdline(splitCmdline(read('cmdline')));
    return vmInfoFromIdentity(pid, identity, parsePodCgroup(read('cgroup'))?.podUid);
  }
}
