// Kubernetes placement of a process from /proc/PID/cgroup (pure). Both
// cgroup drivers spell the pod UID in the path: systemd as
// `kubepods-burstable-pod<uid with _>.slice`, cgroupfs as `/kubepods/burstable/pod<uid>/`.

export interface PodPlacement {
  podUid: string;
}

const POD_RE = /[/-]pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?:\/|$)/i;

export function parsePodCgroup(cgroupFile: string): PodPlacement | undefined {
  for (const line of cgroupFile.split('\n')) {
    // "hierarchy-ID:controllers:path"; the path may itself contain ':'.
    const path = line.split(':').slice(2).join(':');
    if (!path.includes('kubepods')) continue;
    const m = POD_RE.exec(path);
    if (m) return { podUid: m[1].replace(/_/g, '-').toLowerCase() };
  }
  return undefined;
}
