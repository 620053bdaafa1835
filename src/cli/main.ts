import { processOutput } from './output.js';
import { runCli } from './registry.js';

// The entry point: the only place that sets the exit code.
process.exitCode = await runCli(process.argv.slice(2), processOutput());
