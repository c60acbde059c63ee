// Shared by report, diff and buildid-list: the symbol sources from the
// command line (perf kvm's --guest* options, host --kallsyms/--vmlinux),
// the input file name, and warnings printed once on stderr.
import type { GlobalOptions } from '../cli/global-options.ts';
import { warn } from '../cli/output.ts';
import { progressReporter } from '../cli/progress.ts';
import { profileFile, type ProfileOptions, type ProfileResult, type SymbolSources } from './native-profile.ts';

export interface SymbolCliOptions {
  kallsyms?: string;
  vmlinux?: string;
  buildidDir?: string;
  demangle?: boolean;
}

/**
 * perf kvm's perf_host / perf_guest: guest samples are reported unless
 * --no-guest, host samples only with --host.
 */
export function symbolSources(g: GlobalOptions, o: SymbolCliOptions): SymbolSources {
  return {
    host: g.host === true,
    guest: g.guest !== false,
    kallsyms: o.kallsyms,
    vmlinux: o.vmlinux,
    guestKallsyms: g.guestkallsyms,
    guestModules: g.guestmodules,
    guestVmlinux: g.guestvmlinux,
    guestMount: g.guestmount,
    buildidDir: o.buildidDir,
    demangle: o.demangle,
  };
}

export async function loadProfile(input: string, options: ProfileOptions, verbose: boolean, quiet = false): Promise<ProfileResult> {
  const progress = progressReporter(`reading ${input}`);
  const result = await profileFile(input, options, progress.update).finally(progress.done);
  if (!quiet) for (const w of result.warnings) warn(w);
  if (verbose) for (const n of result.notes) warn(n);
  return result;
}

/** Says why a report is empty when the host/guest switches hid every sample. */
export function warnFiltered(input: string, result: ProfileResult, sources: SymbolSources) {
  for (const e of result.events) {
    if (e.filteredSamples === 0) continue;
    const hidden = sources.host ? 'guest' : 'host';
    const hint = sources.host ? 'drop --no-guest' : 'add --host, as with perf kvm';
    warn(`${input}: ${e.filteredSamples} ${hidden} samples of '${e.name}' are not shown (${hint})`);
  }
}

export function reportDataError(input: string, result: ProfileResult): boolean {
  if (!result.dataError) return false;
  const where = result.dataError.offset !== undefined ? `offset ${result.dataError.offset}: ` : '';
  warn(`${input}: ${where}${result.dataError.message} (the report covers the records before it)`);
  return true;
}
