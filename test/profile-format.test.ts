// perf report's table text where no recording is needed to show it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HistEntry } from '../src/profile/hist.ts';
import { formatTable } from '../src/profile/report-format.ts';

const entry = (sym: string, period: number): HistEntry => ({
  event: 0, comm: 'node', dso: 'node', sym, symIsObject: false, level: '.', addr: 0n, symStart: 0n,
  samples: period, period, first: 0,
});

test('a column header wider than 1023 characters is cut there, as perf cuts it; the dots are not', () => {
  const long = `v8::internal::${'Reducer<'.repeat(400)}X`;  // ~3.2 KB, as V8's turboshaft names
  const text = formatTable({ name: 'cpu-clock', samples: 2, period: 2, entries: [entry(long, 1), entry('main', 1)] },
    ['comm', 'dso', 'sym'], 2);
  const [header, dots] = text.split('\n');
  const symbolAt = header.indexOf('Symbol');
  assert.is(header.length - symbolAt, 1023);
  assert.is(dots.length - symbolAt, long.length + 4);
  assert.ok(text.includes(`[.] ${long}\n`), 'the symbol itself is printed whole');
});

test.run();
