/**
 * The flags and arguments of every command, and the options type each command derives
 * from them. The specs are plain commander calls built at start-up (no command file is
 * loaded to build them, so `noburn check` stays light); registry.ts attaches the actions.
 *
 * Why a renamed flag cannot go unnoticed: `@commander-js/extra-typings` infers the options
 * object from the flag strings (`--tokens-out <n>` with tokensArg gives `tokensOut: number`),
 * each command file takes `OptionsOf<typeof itsSpec>` rather than a hand-written interface,
 * so renaming `--user` here removes `user` from the type and every `opts.user` in the
 * command stops compiling. Flags are added in the order `--help` lists them.
 */
import { Option } from '@commander-js/extra-typings';
import type { Command, CommandUnknownOpts, OptionValues } from '@commander-js/extra-typings';
import { PERIODS } from '../lib/periods.js';
import type { Period } from '../lib/periods.js';
import type { KeyRole } from '../lib/ledger/key-store.js';
import { EVENT_KINDS, RUN_STATUSES } from '../lib/types.js';
import type { EventKind, RunStatus } from '../lib/types.js';
import { alertAtArg, choiceArg, deploymentArg, idArg, oneTagArg, priceArg, spendByArg, tagArg, tokensArg, usdArg } from './parse.js';

const ALERT_HELP = 'alert when recorded spend reaches these percents of the cap (e.g. 50,80,100; none removes them)';

/** The options object a spec's command hands to its action. */
export type OptionsOf<S extends (parent: CommandUnknownOpts) => { opts(): OptionValues }> = ReturnType<ReturnType<S>['opts']>;

function json<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>, help = 'print JSON on stdout (messages go to stderr)') {
  return cmd.option('--json', help);
}

function example<C extends CommandUnknownOpts>(cmd: C, text: string): C {
  return cmd.addHelpText('after', `\nExample:\n  ${text}`);
}

const TAG_HELP = 'a tag of the call, key=value (repeatable, at most 8; tag caps apply)';

/** --user, --run and --tag, as check and record take them. */
function callOwners<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd
    .option('--user <id>', 'end user id', idArg)
    .option('--run <id>', 'run id (default: $NOBURN_RUN_ID)', idArg)
    .option('--tag <key=value>', TAG_HELP, tagArg);
}

const STORE_HELP = 'SQLite file or postgres:// URL (default: $NOBURN_STORE, else $NOBURN_HOME/noburn.db)';

/** --store and --json, as serve and every keys command take them. */
function storeAndJson<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return json(cmd.option('--store <spec>', STORE_HELP));
}

export const checkSpec = (p: CommandUnknownOpts) =>
  example(
    json(
      callOwners(
        p
          .command('check')
          .description('ask whether a call fits every cap; exit 0 = allowed (reservation id on stdout), 1 = blocked')
          .requiredOption('--model <model>', 'model name, e.g. gpt-4o')
          .option('--tokens-in <n>', 'estimated input tokens', tokensArg)
          .requiredOption('--tokens-out <n>', 'estimated output tokens (e.g. max_tokens)', tokensArg)
          .option('--prompt-file <file>', 'estimate input tokens from this file (- for stdin) with a tokenizer'),
      )
        .option('--clamp', 'if --tokens-out does not fit, hold the largest output that does (down to --min-tokens-out) instead of refusing')
        .option('--min-tokens-out <n>', 'the smallest output a clamped check holds (default: config minTokensOut, 256)', tokensArg),
    ),
    'noburn check --model gpt-4o --tokens-in 1000 --tokens-out 300 --user u1 && curl ...',
  );
export type CheckOptions = OptionsOf<typeof checkSpec>;

export const recordSpec = (p: CommandUnknownOpts) =>
  example(
    json(
      callOwners(
        p
          .command('record')
          .description("record a call's real cost (settles its hold)")
          .requiredOption('--model <model>', 'model name')
          .requiredOption('--tokens-in <n>', 'input tokens (all, cached included)', tokensArg)
          .requiredOption('--tokens-out <n>', 'output tokens', tokensArg)
          .option('--cached-tokens-in <n>', 'input tokens read from the prompt cache', tokensArg)
          .option('--cost <usd>', 'actual cost in USD (else priced from tokens)', usdArg),
      )
        .option('--reservation <id>', 'the reservation id check printed', idArg)
        .option('--idempotency-key <key>', 'recording the same key twice counts once', idArg)
        .option('--blocked', 'the call was not made: release the hold, count it as blocked'),
    ),
    'noburn record --model gpt-4o --tokens-in 980 --tokens-out 290 --reservation "$RES"',
  );
export type RecordOptions = OptionsOf<typeof recordSpec>;

/** `noburn run -- CMD` (options of its own) and the group of run subcommands. */
export const runSpec = (p: CommandUnknownOpts) =>
  example(
    json(
      p
        .command('run')
        .description('start, end, show and list runs; or wrap a command with a run cap: noburn run --cap 0.50 -- CMD ARGS')
        .argument('[command...]', 'the command to run under a run cap (after --)')
        .option('--cap <usd>', 'the run cap in USD', usdArg)
        .option('--alert-at <percents>', 'alert (a line on stderr, the feed, the configured webhook or command) when the run reaches these percents of --cap', alertAtArg)
        .option('--label <label>', 'a label for the run', idArg)
        .option('--no-proxy', 'do not start the metering proxy')
        .option('--no-clamp', 'refuse a call whose output bound does not fit, instead of lowering the bound to fit')
        .option('--stop-on-exhaust', 'stop the command (exit 124) at the first call blocked by the run cap')
        .option('--user <id>', 'the end user of every call that names none (user caps apply)', idArg)
        .option('--tag <key=value>', 'a tag of every call (repeatable, at most 8; a request\'s x-noburn-tags header adds to them)', tagArg)
        .option('--allow-unmetered', 'forward calls noburn cannot price (unknown endpoint or model, unreadable body) instead of refusing them; they are counted')
        .option('--azure-deployment <NAME=MODEL>', 'an Azure deployment and the model it serves (repeatable)', deploymentArg, []),
      'print the summary as JSON on stdout',
    ).passThroughOptions(),
    'noburn run --cap 0.50 -- python agent.py',
  );
export type RunExecOptions = OptionsOf<typeof runSpec>;

export const runStartSpec = (run: CommandUnknownOpts) =>
  example(
    json(
      run
        .command('start')
        .description('start a run; prints its id alone')
        .option('--cap <usd>', 'run cap in USD', usdArg)
        .option('--alert-at <percents>', ALERT_HELP, alertAtArg)
        .option('--label <label>', 'label', idArg)
        .option('--parent <id>', "start it nested in this run (the parent's cap applies too; its spend includes this run's)", idArg),
    ),
    'ID=$(noburn run start --cap 1 --label nightly); KID=$(noburn run start --parent "$ID" --cap 0.2)',
  );
export type RunStartOptions = OptionsOf<typeof runStartSpec>;

export const runEndSpec = (run: CommandUnknownOpts) =>
  example(json(run.command('end').description('end a run and print its result').argument('<id>', 'run id', idArg)), 'noburn run end "$ID"');
export type RunEndOptions = OptionsOf<typeof runEndSpec>;

export const runShowSpec = (run: CommandUnknownOpts) =>
  example(json(run.command('show').description('show a run and the runs nested in it').argument('<id>', 'run id', idArg)), 'noburn run show "$ID" --json');
export type RunShowOptions = OptionsOf<typeof runShowSpec>;

export const runListSpec = (run: CommandUnknownOpts) =>
  example(
    json(
      run
        .command('list')
        .description('list runs, open first')
        .addOption(new Option('--status <status>', 'only open, ended (any not open) or abandoned runs').argParser(choiceArg<RunStatus>(RUN_STATUSES))),
    ),
    'noburn run list --status open',
  );
export type RunListOptions = OptionsOf<typeof runListSpec>;

export const budgetSpec = (p: CommandUnknownOpts) => example(p.command('budget').description('set and show caps'), 'noburn budget set --project 50 --period month && noburn budget show');

export const budgetSetSpec = (budget: CommandUnknownOpts) =>
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
        .option('--tag <key=value>', 'a cap on the calls that carry this tag (project-wide)', oneTagArg)
        .addOption(new Option('--period <period>', 'UTC calendar window').argParser(choiceArg<Period>(PERIODS)).default('month'))
        .option('--alert-at <percents>', `${ALERT_HELP}; absent: the cap keeps its own`, alertAtArg),
    ),
    "noburn budget set --user u1 5 --period day; noburn budget set --model 'claude-opus-*' 5 --period day; noburn budget set --tag feature=search 2 --period day; noburn budget set --project 50 --alert-at 50,80,100",
  );
export type BudgetSetOptions = OptionsOf<typeof budgetSetSpec>;

export const budgetShowSpec = (budget: CommandUnknownOpts) => example(json(budget.command('show').description('every cap with its spend in the current window')), 'noburn budget show --json');
export type BudgetShowOptions = OptionsOf<typeof budgetShowSpec>;

export const alertsSpec = (p: CommandUnknownOpts) => example(p.command('alerts').description('alerts fired by cap thresholds (--alert-at)'), 'noburn alerts list');

export const alertsListSpec = (alerts: CommandUnknownOpts) =>
  example(
    json(
      alerts
        .command('list')
        .description('the alerts fired, oldest first, with their delivery state')
        .option('--run <id>', "only this run's", idArg)
        .option('--limit <n>', 'at most this many (the newest)', tokensArg),
    ),
    'noburn alerts list --json',
  );
export type AlertsListOptions = OptionsOf<typeof alertsListSpec>;

export const spendSpec = (p: CommandUnknownOpts) =>
  example(
    json(
      p
        .command('spend')
        .description('what was spent, grouped')
        .addOption(new Option('--by <group>', 'group by: user, run, model, day or tag:KEY (the value of one tag key)').argParser(spendByArg))
        .option('--since <date>', 'from this date (YYYY-MM-DD or ISO time, inclusive)')
        .option('--until <date>', 'until this date (exclusive)')
        .addOption(new Option('--format <format>', 'csv: one row per group (RFC 4180); json: as --json').argParser(choiceArg<SpendFormat>(SPEND_FORMATS))),
    ),
    'noburn spend --by user --since 2026-11-01 --format csv > spend.csv',
  );
export type SpendOptions = OptionsOf<typeof spendSpec>;

export const SPEND_FORMATS = ['csv', 'json'] as const;
export type SpendFormat = (typeof SPEND_FORMATS)[number];
export const EVENTS_FORMATS = ['jsonl', 'csv'] as const;
export type EventsFormat = (typeof EVENTS_FORMATS)[number];

export const eventsSpec = (p: CommandUnknownOpts) =>
  example(
    json(
      p
        .command('events')
        .description('export the event feed (checks, records, runs, budgets), oldest first, streamed')
        .option('--since <date>', 'from this date (YYYY-MM-DD or ISO time, inclusive)')
        .option('--until <date>', 'until this date (exclusive)')
        .addOption(new Option('--kind <kind>', 'only events of this kind').argParser(choiceArg<EventKind>(EVENT_KINDS)))
        .addOption(new Option('--format <format>', 'jsonl: one JSON event a line (default); csv: RFC 4180 with a header row').argParser(choiceArg<EventsFormat>(EVENTS_FORMATS))),
      'the same as --format jsonl: one JSON event a line (the feed is streamed, not one array)',
    ),
    'noburn events --since 2026-11-01 --kind record --format csv > records.csv',
  );
export type EventsOptions = OptionsOf<typeof eventsSpec>;

export const pricesSpec = (p: CommandUnknownOpts) =>
  example(
    json(
      p
        .command('prices')
        .description('the price noburn uses for a model and its source; set and list prices (prices set, prices list)')
        .argument('[model]', 'model name'),
    ),
    'noburn prices gpt-4o',
  );
export type PricesOptions = OptionsOf<typeof pricesSpec>;

export const pricesSetSpec = (prices: CommandUnknownOpts) =>
  example(
    json(
      prices
        .command('set')
        .description('set the price of a model (USD per million tokens) in $NOBURN_HOME/config.json; it wins over the price data')
        .argument('<model>', 'model name, or provider:model', idArg)
        .requiredOption('--in <usd>', 'input price per million tokens', priceArg)
        .requiredOption('--out <usd>', 'output price per million tokens', priceArg)
        .option('--cache-read <usd>', 'price of input read from the prompt cache (default: the input price)', priceArg)
        .option('--cache-write <usd>', 'price of input written to the prompt cache (default: the input price)', priceArg),
    ),
    'noburn prices set my-finetune --in 0.15 --out 0.6 --cache-read 0.075',
  );
export type PricesSetOptions = OptionsOf<typeof pricesSetSpec>;

/** `prices list --source`: `override` is the same as `config` (the source a config price shows). */
export const PRICE_LIST_SOURCES = ['override', 'config', 'genai-prices'] as const;
export type PriceListSource = (typeof PRICE_LIST_SOURCES)[number];

export const pricesListSpec = (prices: CommandUnknownOpts) =>
  example(
    json(
      prices
        .command('list')
        .description('the configured prices, then every model of the price data')
        .addOption(new Option('--source <source>', 'only the config prices (override, or config) or only the price data (genai-prices)').argParser(choiceArg<PriceListSource>(PRICE_LIST_SOURCES))),
    ),
    'noburn prices list --source override',
  );
export type PricesListOptions = OptionsOf<typeof pricesListSpec>;

export const watchSpec = (p: CommandUnknownOpts) =>
  example(
    json(
      p
        .command('watch')
        .description('live dashboard of spend per user and per run (q quits)')
        .option('--remote', "also pull the server's event feed (NOBURN_URL) into the local mirror")
        .option('--once', 'print one frame and exit'),
    ),
    'noburn watch',
  );
export type WatchOptions = OptionsOf<typeof watchSpec>;

export const serveSpec = (p: CommandUnknownOpts) =>
  example(
    json(
      p
        .command('serve')
        .description('run the HTTP authority (docs/api.md) until SIGTERM/SIGINT; JSON logs on stderr')
        .option('--host <host>', 'address to bind', '127.0.0.1')
        .option('--port <port>', 'port to listen on (0 = any free port)', '8787')
        .option('--store <spec>', STORE_HELP)
        .option('--headers-timeout-ms <ms>', "a request's headers must arrive within this, else 408 (default 10000)")
        .option('--request-timeout-ms <ms>', 'the whole request must arrive within this, else 408 (default 30000)')
        .option('--keep-alive-timeout-ms <ms>', 'idle keep-alive connections are closed after this (default 30000)')
        .option('--max-connections <n>', 'open sockets at most; at the limit the oldest idle one is closed (default: 3/4 of the fd limit)'),
    ),
    'noburn serve --port 8787 --store /var/lib/noburn/noburn.db',
  );
export type ServeOptions = OptionsOf<typeof serveSpec>;

export const keysSpec = (p: CommandUnknownOpts) =>
  example(p.command('keys').description('API keys for noburn serve (stored only as hashes)'), 'noburn keys create --role admin --project acme && noburn keys list --project acme');

export const keysCreateSpec = (keys: CommandUnknownOpts) =>
  example(
    storeAndJson(
      keys
        .command('create')
        .description('create a key and print it alone on stdout (shown once)')
        .addOption(new Option('--role <role>', 'app: check, record, runs; admin: also budgets and keys').argParser(choiceArg<KeyRole>(['app', 'admin'])).default('app'))
        .option('--project <id>', 'the project the key belongs to', idArg, 'default')
        .option('--label <label>', 'a note to recognise the key by', idArg),
    ),
    'KEY=$(noburn keys create --role admin --project acme)',
  );
export type KeysCreateOptions = OptionsOf<typeof keysCreateSpec>;

export const keysListSpec = (keys: CommandUnknownOpts) =>
  example(storeAndJson(keys.command('list').description('list keys (never the keys themselves)').option('--project <id>', 'only this project', idArg)), 'noburn keys list --project acme');
export type KeysListOptions = OptionsOf<typeof keysListSpec>;

export const keysRevokeSpec = (keys: CommandUnknownOpts) =>
  example(
    storeAndJson(keys.command('revoke').description('revoke a key (a running server refuses it within a second)').argument('<id>', 'key id (key_...)', idArg)),
    'noburn keys revoke key_AbCdEf123456',
  );
export type KeysRevokeOptions = OptionsOf<typeof keysRevokeSpec>;

export const configSpec = (p: CommandUnknownOpts) =>
  example(p.command('config').description('the settings noburn uses (config.json, NOBURN_* variables, defaults)'), 'noburn config show && noburn config validate');

export const configShowSpec = (config: CommandUnknownOpts) =>
  example(
    json(config.command('show').description('every setting: its effective value and where it came from (env, file, default); secrets redacted')),
    'noburn config show --json',
  );
export type ConfigShowOptions = OptionsOf<typeof configShowSpec>;

export const configValidateSpec = (config: CommandUnknownOpts) =>
  example(
    json(config.command('validate').description('check a config.json (default: $NOBURN_HOME/config.json): exit 0 valid, 2 with the problem').argument('[file]', 'the file to check')),
    'noburn config validate ~/.noburn/config.json',
  );
export type ConfigValidateOptions = OptionsOf<typeof configValidateSpec>;
