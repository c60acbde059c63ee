// perf kvm's options about guests and files, shared by the profiling
// commands (record, top, report, diff, buildid-list). perf kvm takes them
// before the subcommand (`kvmlens --guestmount=DIR report`); kvmlens also
// accepts them after it (`kvmlens report --guestmount=DIR`), so each
// subcommand adds them with addGuestOptions() and reads the merged value
// with guestOptions().
import { Command, Option } from 'commander';
import type { GlobalOptions } from './global-options.ts';

export interface GuestOptions {
  /** Guest root file systems, one directory per QEMU pid: DIR/<pid>/... */
  guestmount?: string;
  /** Copy of the guest's /proc/kallsyms (the default guest, pid 0). */
  guestkallsyms?: string;
  /** Copy of the guest's /proc/modules. */
  guestmodules?: string;
  /** The guest kernel's vmlinux (symbols and build-id). */
  guestvmlinux?: string;
}

/** The option definitions, as perf kvm spells and describes them. */
export function guestOptionList(): Option[] {
  return [
    new Option('--guestmount <path>', 'guest os root file system mount directory (DIR/<qemu pid>/...)'),
    new Option('--guestkallsyms <path>', 'guest os /proc/kallsyms file copy'),
    new Option('--guestmodules <path>', 'guest os /proc/modules file copy'),
    new Option('--guestvmlinux <path>', 'guest os kernel vmlinux'),
  ];
}

/** Adds the guest options (and, unless told otherwise, -v) to a subcommand. */
export function addGuestOptions(cmd: Command, opts: { verbose?: boolean } = {}): Command {
  for (const o of guestOptionList()) cmd.addOption(o);
  if (opts.verbose !== false) cmd.option('-v, --verbose', 'be more verbose');
  return cmd;
}

/** The subcommand's value where given, else the one given before the subcommand. */
export function guestOptions(local: GuestOptions, globals: GlobalOptions): GuestOptions {
  return {
    guestmount: local.guestmount ?? globals.guestmount,
    guestkallsyms: local.guestkallsyms ?? globals.guestkallsyms,
    guestmodules: local.guestmodules ?? globals.guestmodules,
    guestvmlinux: local.guestvmlinux ?? globals.guestvmlinux,
  };
}

/**
 * perf kvm's host/guest switches: --guest is on unless --no-guest, --host
 * is off unless given. record turns them into exclude_host/exclude_guest.
 */
export function hostGuest(globals: GlobalOptions): { host: boolean; guest: boolean } {
  return { host: globals.host === true, guest: globals.guest !== false };
}
