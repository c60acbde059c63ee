// --run-as: give up root once the perf events are open and the listeners
// bound. The open perf file descriptors and mmap'ed ring buffers stay usable;
// what is lost is the ability to open new ones (fine: the set of CPUs is
// fixed at start) and to read root-only files afterwards.
import { execFileSync } from 'node:child_process';

export function dropPrivileges(user: string): { uid: number; gid: number } {
  if (typeof process.setuid !== 'function' || typeof process.getuid !== 'function') {
    throw new Error('--run-as is only supported on POSIX systems');
  }
  const numeric = /^\d+$/.test(user);
  // A numeric uid may have no passwd entry (e.g. 65534 in a distroless
  // image): then its primary group is taken to be the same number.
  let gid: number;
  try {
    gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  } catch {
    if (!numeric) throw new Error(`--run-as: no such user '${user}'`);
    gid = Number(user);
  }
  // Only the primary group: supplementary groups of the user are not kept.
  process.setgroups!([gid]);
  process.setgid!(gid);
  process.setuid(numeric ? Number(user) : user);
  if (process.getuid() === 0 && user !== '0' && user !== 'root') throw new Error('--run-as: still root after setuid');
  return { uid: process.getuid(), gid: process.getgid!() };
}
