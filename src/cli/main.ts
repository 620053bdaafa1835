import { processOutput } from './output.js';
import { runCli } from './registry.js';

// A reader that went away (`noburn ... | head -1`) is not an error of the command: stdout's
// EPIPE ends the output quietly instead of crashing with a stack trace. Other stream errors
// still surface as before.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

// The entry point: the only place that sets the exit code.
process.exitCode = await runCli(process.argv.slice(2), processOutput());
