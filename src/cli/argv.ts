// perf kvm's way of naming subcommands, mapped onto ours before parsing:
// `perf kvm stat rec` / `rep` (any word starting with "rec"/"rep"), and
// `perf kvm rec` (a prefix of "record" of 3+ letters) and the like.
const TOP_LEVEL = ['record', 'report', 'diff', 'buildid-list', 'top'];

function expandPrefix(word: string, full: string[]): string {
  if (word.length < 3) return word;
  const match = full.filter((f) => f.startsWith(word));
  return match.length === 1 ? match[0] : word;
}

/** Options of `kvmlens` itself that take a value (skipped when looking for the command). */
const GLOBAL_WITH_VALUE = new Set(['-i', '--input', '-o', '--output', '--guestmount', '--guestkallsyms', '--guestmodules', '--guestvmlinux']);

/** Index of the first word that is not a global option (or its value). */
function firstCommandWord(argv: string[]): number {
  let i = 0;
  while (i < argv.length && argv[i].startsWith('-')) {
    i += GLOBAL_WITH_VALUE.has(argv[i]) ? 2 : 1;
  }
  return i;
}

/** The command and the word after it, e.g. ['stat', 'report'] (of normalized argv). */
export function commandPath(argv: string[]): string[] {
  const i = firstCommandWord(argv);
  return argv.slice(i, i + 2);
}

export function normalizeArgv(argv: string[]): string[] {
  const out = [...argv];
  const i = firstCommandWord(out);
  if (i >= out.length) return out;
  if (out[i] === 'stat') {
    const sub = out[i + 1];
    if (sub && sub.startsWith('rec')) out[i + 1] = 'record';
    else if (sub && sub.startsWith('rep')) out[i + 1] = 'report';
  } else {
    out[i] = expandPrefix(out[i], TOP_LEVEL);
  }
  return out;
}
