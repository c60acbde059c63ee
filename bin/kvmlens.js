#!/usr/bin/env node
import { prepareExporterProcess } from '../dist/cli/early-exporter.js';
import { earlyReportUntaken, startEarlyReport } from '../dist/cli/early-report.js';

// `exporter`: fewer malloc arenas, set before any thread allocates.
prepareExporterProcess(process.argv.slice(2));

// `stat report` reads its file on a native thread while the CLI loads.
startEarlyReport(process.argv.slice(2));
const { main } = await import('../dist/cli/main.js');

// `kvmlens ... | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // An early read nobody took (usage error, --help) must not hold the exit.
    if (earlyReportUntaken()) process.exit(code);
  },
  (err) => {
    console.error(`kvmlens: ${err && err.message ? err.message : err}`);
    process.exitCode = 1;
    if (earlyReportUntaken()) process.exit(1);
  },
);
