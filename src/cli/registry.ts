import { Command, CommanderError, Option } from 'commander';
import { isNoburnError } from '../lib/errors.js';
import { PERIODS } from '../lib/periods.js';
import { redactSecrets } from '../lib/redact.js';
import type { Period } from '../lib/periods.js';
import { ExitCodes, exitCodeFor } from './exit-codes.js';
import type { Output } from './output.js';
import { choiceArg, deploymentArg, idArg, tokensArg, usdArg } from './parse.js';
import { VERSION } from './version.js';
// Static: `check` is the command scripts run before every call, so it skips the extra chunk load.
import { checkCommand } from './commands/check.js';

/**
 * Wires every command into commander. Each action imports its command file lazily, so
 * `noburn check` parses only what check needs. Actions store their exit code; runCli
 * returns it (only the entry point sets process.exitCode).
 */
type Opts = Record<string, unknown>;

function json(cmd: Command): Command {
  return cmd.option('--json', 'print JSON on stdout (messages go to stderr)');
}

function example(cmd: Command, text: string): Command {
  return cmd.addHelpText('after', `\nExample:\n  ${text}`);
}

export function buildProgram(out: Output, setCode: (code: number) => void): Command {
  const program = new Command('noburn')
    .description('Hard LLM spend enforcement: check before each call, record after it, never past a cap.')
    .version(VERSION)
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s), outputError: (s) => out.err(s.trimEnd()) });

  const act = <A extends unknown[]>(fn: (...args: A) => Promise<number>) => async (...args: A) => setCode(await fn(...args));

  example(
    json(
      program
        .command('check')
        .description('ask whether a call fits every cap; exit 0 = allowed (reservation id on stdout), 1 = blocked')
        .requiredOption('--model <model>', 'model name, e.g. gpt-4o')
        .option('--tokens-in <n>', 'estimated input tokens', tokensArg)
        .requiredOption('--tokens-out <n>', 'estimated output tokens (e.g. max_tokens)', tokensArg)
        .option('--prompt-file <file>', 'estimate input tokens from this file (- for stdin) with a tokenizer')
        .option('--user <id>', 'end user id', idArg)
        .option('--run <id>', 'run id (default: $NOBURN_RUN_ID)', idArg)
        .option('--clamp', 'if --tokens-out does not fit, hold the largest output that does (down to --min-tokens-out) instead of refusing')
        .option('--min-tokens-out <n>', 'the smallest output a clamped check holds (default: config minTokensOut, 256)', tokensArg),
    ),
    'noburn check --model gpt-4o --tokens-in 1000 --tokens-out 300 --user u1 && curl ...',
  ).action(act(async (o: Opts) => checkCommand(o as never, out)));

  example(
    json(
      program
        .command('record')
        .description("record a call's real cost (settles its hold)")
        .requiredOption('--model <model>', 'model name')
        .requiredOption('--tokens-in <n>', 'input tokens (all, cached included)', tokensArg)
        .requiredOption('--tokens-out <n>', 'output tokens', tokensArg)
        .option('--cached-tokens-in <n>', 'input tokens read from the prompt cache', tokensArg)
        .option('--cost <usd>', 'actual cost in USD (else priced from tokens)', usdArg)
        .option('--user <id>', 'end user id', idArg)
        .option('--run <id>', 'run id (default: $NOBURN_RUN_ID)', idArg)
        .option('--reservation <id>', 'the reservation id check printed', idArg)
        .option('--idempotency-key <key>', 'recording the same key twice counts once', idArg)
        .option('--blocked', 'the call was not made: release the hold, count it as blocked'),
    ),
    'noburn record --model gpt-4o --tokens-in 980 --tokens-out 290 --reservation "$RES"',
  ).action(act(async (o: Opts) => (await import('./commands/record.js')).recordCommand(o as never, out)));

  const run = program
    .command('run')
    .description('start, end, show and list runs; or wrap a command with a run cap: noburn run --cap 0.50 -- CMD ARGS')
    .argument('[command...]', 'the command to run under a run cap (after --)')
    .option('--cap <usd>', 'the run cap in USD', usdArg)
    .option('--label <label>', 'a label for the run', idArg)
    .option('--no-proxy', 'do not start the metering proxy')
    .option('--no-clamp', 'refuse a call whose output bound does not fit, instead of lowering the bound to fit')
    .option('--stop-on-exhaust', 'stop the command (exit 124) at the first call blocked by the run cap')
    .option('--user <id>', 'the end user of every call that names none (user caps apply)', idArg)
    .option('--allow-unmetered', 'forward calls noburn cannot price (unknown endpoint or model, unreadable body) instead of refusing them; they are counted')
    .option('--azure-deployment <NAME=MODEL>', 'an Azure deployment and the model it serves (repeatable)', deploymentArg, [])
    .option('--json', 'print the summary as JSON on stdout')
    .passThroughOptions()
    .action(
      act(async (command: string[], o: Opts) => {
        if (command.length === 0) {
          out.err('usage: noburn run --cap USD -- COMMAND [ARGS...]   or   noburn run start|end|show|list (see noburn run --help)');
          return ExitCodes.USAGE;
        }
        return (await import('./commands/run-exec.js')).runExecCommand(command, o as never, out);
      }),
    );
  example(run, 'noburn run --cap 0.50 -- python agent.py');
  example(
    json(
      run
        .command('start')
        .description('start a run; prints its id alone')
        .option('--cap <usd>', 'run cap in USD', usdArg)
        .option('--label <label>', 'label', idArg)
        .option('--parent <id>', "start it nested in this run (the parent's cap applies too; its spend includes this run's)", idArg),
    ),
    'ID=$(noburn run start --cap 1 --label nightly); KID=$(noburn run start --parent "$ID" --cap 0.2)',
  ).action(act(async (o: Opts) => (await import('./commands/run-start.js')).runStartCommand(o as never, out)));
  example(json(run.command('end').description('end a run and print its result').argument('<id>', 'run id', idArg)), 'noburn run end "$ID"').action(
    act(async (id: string, o: Opts) => (await import('./commands/run-end.js')).runEndCommand(id, o as never, out)),
  );
  example(json(run.command('show').description('show a run and the runs nested in it').argument('<id>', 'run id', idArg)), 'noburn run show "$ID" --json').action(
    act(async (id: string, o: Opts) => (await import('./commands/run-show.js')).runShowCommand(id, o as never, out)),
  );
  example(json(run.command('list').description('list runs, open first').addOption(new Option('--status <status>', 'only open, ended (any not open) or abandoned runs').argParser(choiceArg(['open', 'ended', 'abandoned'] as const)))), 'noburn run list --status open').action(
    act(async (o: Opts) => (await import('./commands/run-show.js')).runListCommand(o as never, out)),
  );

  const budget = program.command('budget').description('set and show caps');
  example(budget, 'noburn budget set --project 50 --period month && noburn budget show');
  example(
    json(
      budget
        .command('set')
        .description('set a cap (USD, or "none" to remove it)')
        .argument('<usd>', 'cap in USD, or none', (v: string) => (v === 'none' ? null : usdArg(v)))
        .option('--project', 'the project cap')
        .option('--user <id>', "an end user's cap", idArg)
        .option('--default-user', 'the cap of every user without their own')
        .option('--model <glob>', "a cap on the calls whose model matches the glob (* and ?), for the project or, with --user, that user's", idArg)
        .addOption(new Option('--period <period>', 'UTC calendar window').argParser(choiceArg<Period>(PERIODS)).default('month')),
    ),
    "noburn budget set --user u1 5 --period day; noburn budget set --model 'claude-opus-*' 5 --period day",
  ).action(act(async (amount: number | null, o: Opts) => (await import('./commands/budget.js')).budgetSetCommand(amount, o as never, out)));
  example(json(budget.command('show').description('every cap with its spend in the current window')), 'noburn budget show --json').action(
    act(async (o: Opts) => (await import('./commands/budget.js')).budgetShowCommand(o as never, out)),
  );

  example(
    json(
      program
        .command('spend')
        .description('what was spent, grouped')
        .addOption(new Option('--by <group>', 'group by').argParser(choiceArg(['user', 'run', 'model', 'day'] as const)))
        .option('--since <date>', 'from this date (YYYY-MM-DD or ISO time, inclusive)')
        .option('--until <date>', 'until this date (exclusive)'),
    ),
    'noburn spend --by user --since 2026-11-01',
  ).action(act(async (o: Opts) => (await import('./commands/spend.js')).spendCommand(o as never, out)));

  example(json(program.command('prices').description('the price noburn uses for a model, and its source').argument('[model]', 'model name')), 'noburn prices gpt-4o').action(
    act(async (model: string | undefined, o: Opts) => (await import('./commands/prices.js')).pricesCommand(model, o as never, out)),
  );

  registerOperatorCommands(program, out, act);
  const config = program.command('config').description('the settings noburn uses (config.json, NOBURN_* variables, defaults)');
  example(config, 'noburn config show && noburn config validate');
  example(
    json(config.command('show').description('every setting: its effective value and where it came from (env, file, default); secrets redacted')),
    'noburn config show --json',
  ).action(act(async (o: Opts) => (await import('./commands/config-show.js')).configShowCommand(o as never, out)));
  example(
    json(config.command('validate').description('check a config.json (default: $NOBURN_HOME/config.json): exit 0 valid, 2 with the problem').argument('[file]', 'the file to check')),
    'noburn config validate ~/.noburn/config.json',
  ).action(act(async (file: string | undefined, o: Opts) => (await import('./commands/config-validate.js')).configValidateCommand(file, o as never, out)));

  return program;
}

/** The long-running and operator commands: watch, serve, keys. */
function registerOperatorCommands(program: Command, out: Output, act: <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>): void {
  example(
    json(
      program
        .command('watch')
        .description('live dashboard of spend per user and per run (q quits)')
        .option('--remote', "also pull the server's event feed (NOBURN_URL) into the local mirror")
        .option('--once', 'print one frame and exit'),
    ),
    'noburn watch',
  ).action(act(async (o: Opts) => (await import('./commands/watch.js')).watchCommand(o as never, out)));

  // serve + keys (shared authority)
  const storeOpt = '--store <spec>';
  const storeHelp = 'SQLite file or postgres:// URL (default: $NOBURN_STORE, else $NOBURN_HOME/noburn.db)';
  example(
    json(
      program
        .command('serve')
        .description('run the HTTP authority (docs/api.md) until SIGTERM/SIGINT; JSON logs on stderr')
        .option('--host <host>', 'address to bind', '127.0.0.1')
        .option('--port <port>', 'port to listen on (0 = any free port)', '8787')
        .option(storeOpt, storeHelp)
        .option('--headers-timeout-ms <ms>', "a request's headers must arrive within this, else 408 (default 10000)")
        .option('--request-timeout-ms <ms>', 'the whole request must arrive within this, else 408 (default 30000)')
        .option('--keep-alive-timeout-ms <ms>', 'idle keep-alive connections are closed after this (default 30000)')
        .option('--max-connections <n>', 'open sockets at most; at the limit the oldest idle one is closed (default: 3/4 of the fd limit)'),
    ),
    'noburn serve --port 8787 --store /var/lib/noburn/noburn.db',
  ).action(act(async (o: Opts) => (await import('./commands/serve.js')).serveCommand(o as never, out)));
  const keys = program.command('keys').description('API keys for noburn serve (stored only as hashes)');
  example(
    json(
      keys
        .command('create')
        .description('create a key and print it alone on stdout (shown once)')
        .addOption(new Option('--role <role>', 'app: check, record, runs; admin: also budgets and keys').argParser(choiceArg(['app', 'admin'] as const)).default('app'))
        .option('--project <id>', 'the project the key belongs to', idArg, 'default')
        .option('--label <label>', 'a note to recognise the key by', idArg)
        .option(storeOpt, storeHelp),
    ),
    'KEY=$(noburn keys create --role admin --project acme)',
  ).action(act(async (o: Opts) => (await import('./commands/keys.js')).keysCreateCommand(o as never, out)));
  example(
    json(keys.command('list').description('list keys (never the keys themselves)').option('--project <id>', 'only this project', idArg).option(storeOpt, storeHelp)),
    'noburn keys list --project acme',
  ).action(act(async (o: Opts) => (await import('./commands/keys.js')).keysListCommand(o as never, out)));
  example(
    json(keys.command('revoke').description('revoke a key (a running server refuses it within a second)').argument('<id>', 'key id (key_...)', idArg).option(storeOpt, storeHelp)),
    'noburn keys revoke key_AbCdEf123456',
  ).action(act(async (id: string, o: Opts) => (await import('./commands/keys.js')).keysRevokeCommand(id, o as never, out)));
}

/** Parses argv, runs the command, and returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], out: Output): Promise<number> {
  let code: number = ExitCodes.OK;
  const program = buildProgram(out, (c) => (code = c));
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
    if (process.env['NOBURN_DEBUG']) out.err(redactSecrets(e instanceof Error ? (e.stack ?? '') : ''));
    return ExitCodes.INTERNAL;
  }
}
