// VM identity from /proc/PID/cmdline and /proc/PID/cgroup: the pure parsers
// on argv vectors as QEMU, libvirt, KubeVirt, Firecracker and
// cloud-hypervisor spell them, and the directory on a fake procfs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePodCgroup } from '../src/exporter/vm-info/cgroup.ts';
import { parseQemuOpts, parseVmCmdline, splitCmdline } from '../src/exporter/vm-info/cmdline.ts';
import { VmDirectory, vmInfoFromIdentity } from '../src/exporter/vm-info/directory.ts';

const UUID = '6f1c3b8e-2a4d-4c5e-9f10-0123456789ab';

test('plain QEMU: -name NAME and -uuid', () => {
  const id = parseVmCmdline(['/usr/bin/qemu-system-x86_64', '-enable-kvm', '-name', 'web01', '-uuid', UUID.toUpperCase(), '-m', '2G']);
  assert.equal(id, { vmm: 'qemu', name: 'web01', uuid: UUID });
});

test('QEMU -name with suboptions, escaped commas, and the last -name winning', () => {
  assert.equal(parseVmCmdline(['qemu-kvm', '-name', 'a,,b,process=qemu:ab'])?.name, 'a,b');
  assert.equal(parseVmCmdline(['qemu-kvm', '-name', 'first', '--name', 'second'])?.name, 'second');
  assert.equal(parseQemuOpts('guest=x,,y,debug-threads=on', 'guest'), new Map([['guest', 'x,y'], ['debug-threads', 'on']]));
});

test('libvirt: -name guest=NAME,debug-threads=on', () => {
  const argv = ['/usr/bin/qemu-system-x86_64', '-name', 'guest=db-primary,debug-threads=on', '-S', '-uuid', UUID, '-machine', 'pc-q35-7.2'];
  assert.equal(parseVmCmdline(argv), { vmm: 'qemu', name: 'db-primary', uuid: UUID, libvirt: true });
});

test('KubeVirt: libvirt domain namespace_name inside a pod cgroup', () => {
  const id = parseVmCmdline(['/usr/libexec/qemu-kvm', '-name', 'guest=prod_vm-a_1,debug-threads=on', '-uuid', UUID]);
  const podUid = parsePodCgroup(
    '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0d3f1a2b_4c5d_6e7f_8091_a2b3c4d5e6f7.slice/cri-containerd-abc.scope\n',
  )?.podUid;
  assert.is(podUid, '0d3f1a2b-4c5d-6e7f-8091-a2b3c4d5e6f7');
  const info = vmInfoFromIdentity(4242, id, podUid);
  assert.equal(info, {
    pid: '4242',
    vm: 'vm-a_1',
    uuid: UUID,
    namespace: 'prod',
    name: 'vm-a_1',
    pod: '',
    pod_uid: podUid,
    vmm: 'qemu',
  });
});

test('an underscore outside Kubernetes is part of the name', () => {
  const info = vmInfoFromIdentity(7, parseVmCmdline(['qemu-system-x86_64', '-name', 'guest=my_vm']));
  assert.is(info.name, 'my_vm');
  assert.is(info.namespace, '');
});

test('cgroupfs driver and cgroup v1 lines', () => {
  const v1 = '12:memory:/kubepods/besteffort/pod0d3f1a2b-4c5d-6e7f-8091-a2b3c4d5e6f7/0123abcd\n11:cpu:/\n';
  assert.is(parsePodCgroup(v1)?.podUid, '0d3f1a2b-4c5d-6e7f-8091-a2b3c4d5e6f7');
  assert.is(parsePodCgroup('0::/machine.slice/machine-qemu\\x2d1\\x2dweb.scope/libvirt/emulator\n'), undefined);
});

test('Firecracker: --id (also as --id=...), a UUID id is also the uuid', () => {
  assert.equal(parseVmCmdline(['/usr/bin/firecracker', '--id', 'fc-7', '--api-sock', '/run/fc.sock']), { vmm: 'firecracker', name: 'fc-7' });
  assert.equal(parseVmCmdline(['firecracker', `--id=${UUID}`]), { vmm: 'firecracker', name: UUID, uuid: UUID });
});

test('cloud-hypervisor: named by its API socket (Kata: the sandbox directory)', () => {
  assert.equal(parseVmCmdline(['cloud-hypervisor', '--api-socket', 'path=/run/ch/vm42.sock', '--kernel', 'k']), {
    vmm: 'cloud-hypervisor',
    name: 'vm42',
  });
  assert.equal(parseVmCmdline(['/opt/kata/bin/cloud-hypervisor', '--api-socket', '/run/vc/vm/abc123/clh-api.sock'])?.name, 'abc123');
});

test('other programs and empty command lines', () => {
  assert.equal(parseVmCmdline(['/usr/bin/crosvm', 'run']), { vmm: 'crosvm' });
  assert.is(parseVmCmdline([]), undefined);
  assert.equal(splitCmdline('qemu\u0000-name\u0000x\u0000'), ['qemu', '-name', 'x']);
  // Kernel threads and zombies have an empty cmdline: the vm label falls back to the pid.
  assert.is(vmInfoFromIdentity(99, parseVmCmdline(splitCmdline(''))).vm, '99');
});

test('directory: names from procfs, expiry after the TTL, pid reuse re-reads', () => {
  const proc = mkdtempSync(join(tmpdir(), 'kvmlens-proc-'));
  try {
    const mkProc = (pid: number, argv: string[]) => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), 'cmdline'), `${argv.join('\u0000')}\u0000`);
      writeFileSync(join(proc, String(pid), 'cgroup'), '0::/machine.slice\n');
    };
    mkProc(100, ['qemu-system-x86_64', '-name', 'guest=alpha']);
    let now = 0;
    const dir = new VmDirectory({ hostPids: true, procfs: proc, exitedTtlMs: 60_000, now: () => now });
    dir.refresh(new Set([100, 200]));
    assert.is(dir.info(100).vm, 'alpha');
    assert.is(dir.info(200).vm, '200', 'unknown pid is named by its number');
    assert.not.ok(dir.expired(200), 'gone but within the TTL');
    now = 59_000;
    dir.refresh(new Set([100, 200]));
    assert.not.ok(dir.expired(200));
    now = 61_000;
    dir.refresh(new Set([100, 200]));
    assert.ok(dir.expired(200));
    assert.not.ok(dir.expired(100));
    // pid 200 comes back as a different VM: no longer expired, named anew.
    mkProc(200, ['firecracker', '--id', 'beta']);
    now = 70_000;
    dir.refresh(new Set([100, 200]));
    assert.not.ok(dir.expired(200));
    assert.is(dir.info(200).vm, 'beta');
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

test('directory: replayed pids are never looked up on this host', () => {
  const dir = new VmDirectory({ hostPids: false, procfs: '/proc', exitedTtlMs: 0 });
  dir.refresh(new Set([1]));
  assert.is(dir.info(1).vm, '1', 'pid 1 here is not the recording\'s pid 1');
  assert.not.ok(dir.expired(1));
});

test.run();
