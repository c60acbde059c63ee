// Progress for long reads, on stderr, only when stderr is a terminal.
export function progressReporter(label: string, enabled = process.stderr.isTTY === true) {
  let last = 0;
  let shown = false;
  return {
    update(done: number, total: number) {
      if (!enabled || total < 64 * 1024 * 1024) return;
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      shown = true;
      const pct = Math.min(100, (done / total) * 100).toFixed(0);
      process.stderr.write(`\r${label}: ${pct}% (${(done / 1048576).toFixed(0)} of ${(total / 1048576).toFixed(0)} MB)`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
