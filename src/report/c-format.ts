// printf("%.Nf") as glibc does it: the exact decimal value of the double,
// rounded half-to-even. JS's toFixed rounds exact ties up (1.125 -> "1.13",
// glibc prints "1.12"), which would break line-for-line equality with perf.

/** The exact decimal expansion of a finite double, as "int.frac" digits. */
function exactDecimal(x: number): string {
  // toFixed accepts up to 100 fraction digits; a double >= 2^-46 has at most
  // ~100 significant fraction digits, so this is exact for every value we print.
  return Math.abs(x).toFixed(100);
}

export function cFixed(x: number, precision: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? (x < 0 ? '-nan' : 'nan') : x < 0 ? '-inf' : 'inf';
  const negative = x < 0 || Object.is(x, -0);
  const exact = exactDecimal(x);
  const dot = exact.indexOf('.');
  const intPart = exact.slice(0, dot);
  const frac = exact.slice(dot + 1);
  const kept = intPart + frac.slice(0, precision);
  const next = frac.charCodeAt(precision) - 48;
  const rest = frac.slice(precision + 1);
  const restNonZero = /[1-9]/.test(rest);
  const lastKept = kept.charCodeAt(kept.length - 1) - 48;
  const roundUp = next > 5 || (next === 5 && (restNonZero || lastKept % 2 === 1));
  const digits = roundUp ? incrementDecimalString(kept) : kept;
  const intLen = digits.length - precision;
  let out = precision > 0 ? `${digits.slice(0, intLen)}.${digits.slice(intLen)}` : digits;
  out = out.replace(/^0+(?=\d)/, '');
  // glibc keeps the sign of negative values that round to zero ("-0.00").
  return negative ? `-${out}` : out;
}

function incrementDecimalString(s: string): string {
  const chars = s.split('');
  let i = chars.length - 1;
  while (i >= 0) {
    if (chars[i] === '9') {
      chars[i] = '0';
      i--;
    } else {
      chars[i] = String.fromCharCode(chars[i].charCodeAt(0) + 1);
      return chars.join('');
    }
  }
  return `1${chars.join('')}`;
}

/** printf("%W.Pf") */
export function cFixedWidth(x: number, width: number, precision: number): string {
  return cFixed(x, precision).padStart(width);
}

/** printf("%Ws") (right-aligned, never truncated) */
export function cString(s: string, width: number): string {
  return s.padStart(width);
}
