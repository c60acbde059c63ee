// Options of `perf kvm` itself, which kvmlens accepts in the same place
// (before the subcommand): input/output files and the host/guest switches
// that choose the default file name.
export interface GlobalOptions {
  input?: string;
  output?: string;
  host?: boolean;
  guest?: boolean;
  guestmount?: string;
  guestkallsyms?: string;
  guestmodules?: string;
  guestvmlinux?: string;
  verbose?: boolean;
}

/**
 * perf kvm's default file names (get_filename_for_perf_kvm): --guest is on
 * unless --no-guest; host only -> perf.data.host, guest only ->
 * perf.data.guest, both or neither -> perf.data.kvm.
 */
export function defaultInputFile(g: GlobalOptions): string {
  const host = g.host === true;
  const guest = g.guest !== false;
  if (host && !guest) return 'perf.data.host';
  if (!host && guest) return 'perf.data.guest';
  return 'perf.data.kvm';
}
