import { Command, CommanderError } from '@commander-js/extra-typings';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { envSetting } from '../lib/config.js';
import { isNoburnError } from '../lib/errors.js';
import { redactSecrets } from '../lib/redact.js';
import { ExitCodes, exitCodeFor } from './exit-codes.js';
import type { Output } from './output.js';
import * as spec from './specs.js';
import { VERSION } from './version.js';
// Static: `check` is the command scripts run before every call, so it skips the extra chunk load.
import { checkCommand } from './commands/check.js';

/**
 * Wires every command's spec (specs.ts) to its action. Each action imports its command
 * file lazily, so `noburn check` parses only what check needs. Actions store their exit
 * code; runCli returns it (only the entry point sets process.exitCode). `onlyCheck`: the
 * program with the check command alone (runCli's path for `noburn check`).
 */
export function buildProgram(out: Output, setCode: (code: number) => void, onlyCheck = false): CommandUnknownOpts {
  const program = new Command('noburn')
    .description('Hard LLM spend enforcement: check before each call, record after it, never past a cap.')
    .version(VERSION)
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s), outputError: (s) => out.err(s.trimEnd()) });

  const act = <A extends unknown[]>(fn: (...args: A) => Promise<number>) => async (...args: A) => setCode(await fn(...args));

  spec.checkSpec(program).action(act(async (o) => checkCommand(o, out)));
  if (onlyCheck) return program;
  spec.recordSpec(program).action(act(async (o) => (await import('./commands/record.js')).recordCommand(o, out)));

  const run = spec.runSpec(program).action(
    act(async (command, o) => {
      if (command.length === 0) {
        out.err('usage: noburn run --cap USD -- COMMAND [ARGS...]   or   noburn run start|end|show|list (see noburn run --help)');
        return ExitCodes.USAGE;
      }
      return (await import('./commands/run-exec.js')).runExecCommand(command, o, out);
    }),
  );
  spec.runStartSpec(run).action(act(async (o) => (await import('./commands/run-start.js')).runStartCommand(o, out)));
  spec.runEndSpec(run).action(act(async (id, o) => (await import('./commands/run-end.js')).runEndCommand(id, o, out)));
  spec.runShowSpec(run).action(act(async (id, o) => (await import('./commands/run-show.js')).runShowCommand(id, o, out)));
  spec.runListSpec(run).action(act(async (o) => (await import('./commands/run-show.js')).runListCommand(o, out)));

  const budget = spec.budgetSpec(program);
  spec.budgetSetSpec(budget).action(act(async (amount, o) => (await import('./commands/budget.js')).budgetSetCommand(amount, o, out)));
  spec.budgetShowSpec(budget).action(act(async (o) => (await import('./commands/budget.js')).budgetShowCommand(o, out)));

  const alerts = spec.alertsSpec(program);
  spec.alertsListSpec(alerts).action(act(async (o) => (await import('./commands/alerts.js')).alertsListCommand(o, out)));

  spec.spendSpec(program).action(act(async (o) => (await import('./commands/spend.js')).spendCommand(o, out)));
  spec.eventsSpec(program).action(act(async (o) => (await import('./commands/events.js')).eventsCommand(o, out)));
  const prices = spec.pricesSpec(program).action(act(async (model, o) => (await import('./commands/prices.js')).pricesCommand(model, o, out)));
  spec.pricesSetSpec(prices).action(act(async (model, o) => (await import('./commands/prices-set.js')).pricesSetCommand(model, o, out)));
  spec.pricesListSpec(prices).action(act(async (o) => (await import('./commands/prices-set.js')).pricesListCommand(o, out)));

  spec.watchSpec(program).action(act(async (o) => (await import('./commands/watch.js')).watchCommand(o, out)));
  spec.serveSpec(program).action(act(async (o) => (await import('./commands/serve.js')).serveCommand(o, out)));
  const keys = spec.keysSpec(program);
  spec.keysCreateSpec(keys).action(act(async (o) => (await import('./commands/keys.js')).keysCreateCommand(o, out)));
  spec.keysListSpec(keys).action(act(async (o) => (await import('./commands/keys.js')).keysListCommand(o, out)));
  spec.keysRevokeSpec(keys).action(act(async (id, o) => (await import('./commands/keys.js')).keysRevokeCommand(id, o, out)));

  const config = spec.configSpec(program);
  spec.configShowSpec(config).action(act(async (o) => (await import('./commands/config-show.js')).configShowCommand(o, out)));
  spec.configValidateSpec(config).action(act(async (file, o) => (await import('./commands/config-validate.js')).configValidateCommand(file, o, out)));

  return program;
}

/** Parses argv, runs the command, and returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], out: Output): Promise<number> {
  let code: number = ExitCodes.OK;
  // `noburn check ...` builds only `check` (defining the other commands' options is a few ms
  // of every start-up). It parses, helps and fails as in the full program: commander looks
  // at sibling commands only for the program's own help and unknown-command suggestions.
  const program = buildProgram(out, (c) => (code = c), argv[0] === 'check');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCodes.OK;
      return ExitCodes.USAGE;
    }
    if (isNoburnError(e)) {
      out.err(`noburn: ${redactSecrets(e.message)}`);
      return exitCodeFor(e.code);
    }
    out.err(`noburn: internal error: ${redactSecrets(e instanceof Error ? e.message : String(e))}`);
    if (envSetting('debug') === true) out.err(redactSecrets(e instanceof Error ? (e.stack ?? '') : ''));
    return ExitCodes.INTERNAL;
  }
}
