import { processOutput } from './output.js';
import { runCli } from './registry.js';

// A reader that went away (`noburn ... | head -1`) is not an error of the command: stdout's
// EPIPE ends the output quietly instead of crashing with a stack trace. Other stream errors
// still surface as before.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

// The entry point: the only place that sets the exit code. No top-level await: the CLI is
// built as CommonJS (scripts/build.mjs), which starts faster than an ES module.
void runCli(process.argv.slice(2), processOutput()).then((code) => {
  process.exitCode = code;
});
