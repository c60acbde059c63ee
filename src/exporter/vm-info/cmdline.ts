// Who a KVM process is, from its command line alone (pure: tested on
// recorded argv vectors). Covers QEMU (plain, libvirt, KubeVirt), Firecracker
// and cloud-hypervisor; anything else is reported by its program name.

export type Vmm = 'qemu' | 'firecracker' | 'cloud-hypervisor' | string;

export interface VmIdentity {
  vmm: Vmm;
  /** The VM's own name (for KubeVirt: the VirtualMachineInstance name). */
  name?: string;
  uuid?: string;
  /** KubeVirt: the VMI's namespace (from the libvirt domain `namespace_name`). */
  namespace?: string;
  /** Started by libvirt (QEMU `-name guest=...` is libvirt's spelling). */
  libvirt?: boolean;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Value of an option given as `-opt value`, `--opt value`, `-opt=value` or
 * `--opt=value` (the last occurrence wins, as in QEMU and clap).
 */
export function optionValue(argv: readonly string[], ...names: string[]): string | undefined {
  let found: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    for (const name of names) {
      for (const spelled of [`-${name}`, `--${name}`]) {
        if (arg === spelled && i + 1 < argv.length) found = argv[i + 1];
        else if (arg.startsWith(`${spelled}=`)) found = arg.slice(spelled.length + 1);
      }
    }
  }
  return found;
}

/**
 * QEMU's option syntax: comma-separated `key=value` pairs, `,,` for a literal
 * comma, and a leading bare value standing for the option's implied key.
 */
export function parseQemuOpts(value: string, impliedKey: string): Map<string, string> {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] === ',') {
      if (value[i + 1] === ',') {
        cur += ',';
        i++;
      } else {
        parts.push(cur);
        cur = '';
      }
    } else {
      cur += value[i];
    }
  }
  parts.push(cur);
  const out = new Map<string, string>();
  parts.forEach((p, idx) => {
    const eq = p.indexOf('=');
    if (eq < 0) {
      if (idx === 0) out.set(impliedKey, p);
    } else {
      out.set(p.slice(0, eq), p.slice(eq + 1));
    }
  });
  return out;
}

function isQemu(program: string): boolean {
  return /^qemu|^kvm$|qemu-kvm/.test(program);
}

function parseQemu(argv: readonly string[]): VmIdentity {
  const id: VmIdentity = { vmm: 'qemu' };
  const nameOpt = optionValue(argv, 'name');
  if (nameOpt !== undefined) {
    const opts = parseQemuOpts(nameOpt, 'guest');
    const name = opts.get('guest');
    if (name) id.name = name;
    if (/(^|,)guest=/.test(nameOpt)) id.libvirt = true;
  }
  const uuid = optionValue(argv, 'uuid');
  if (uuid && UUID_RE.test(uuid)) id.uuid = uuid.toLowerCase();
  return id;
}

function parseFirecracker(argv: readonly string[]): VmIdentity {
  const id: VmIdentity = { vmm: 'firecracker' };
  const vmId = optionValue(argv, 'id');
  if (vmId) {
    id.name = vmId;
    if (UUID_RE.test(vmId)) id.uuid = vmId.toLowerCase();
  }
  return id;
}

/** Socket names that say nothing about the VM: then its directory does (Kata: /run/vc/vm/ID/clh-api.sock). */
const GENERIC_SOCKETS = new Set(['clh-api.sock', 'clh.sock', 'api.sock', 'ch.sock', 'cloud-hypervisor.sock']);

function parseCloudHypervisor(argv: readonly string[]): VmIdentity {
  // cloud-hypervisor has no name option; the API socket is the VM's handle.
  const id: VmIdentity = { vmm: 'cloud-hypervisor' };
  const api = optionValue(argv, 'api-socket');
  if (api) {
    const path = api.includes('=') ? (parseQemuOpts(api, 'path').get('path') ?? '') : api;
    const parts = path.split('/').filter(Boolean);
    const file = parts.at(-1) ?? '';
    const name = GENERIC_SOCKETS.has(file) ? parts.at(-2) : file.replace(/\.sock$/, '');
    if (name) id.name = name;
  }
  return id;
}

/** Identity of a process from its argv (/proc/PID/cmdline split on NUL); undefined when empty. */
export function parseVmCmdline(argv: readonly string[]): VmIdentity | undefined {
  if (argv.length === 0 || !argv[0]) return undefined;
  const program = basename(argv[0]);
  if (isQemu(program)) return parseQemu(argv);
  if (program === 'firecracker') return parseFirecracker(argv);
  if (program === 'cloud-hypervisor') return parseCloudHypervisor(argv);
  return { vmm: program };
}

/** /proc/PID/cmdline bytes -> argv (NUL-separated, usually NUL-terminated). */
export function splitCmdline(raw: string): string[] {
  const parts = raw.split('\u0000');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}
