import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { NoburnConfigError } from './errors.js';
import { DEFAULT_RUN_IDLE_TTL_MS } from './ledger/runs.js';
import { bool, deployments, httpUrl, webhookUrl, inputMargin, logLevel, numIn, oneOf, optionalPrice, present, prices, rejectUnknownKeys, str } from './config-values.js';
import type { LogLevel, ModelPriceOverride, Parse } from './config-values.js';

export type { LogLevel, ModelPriceOverride } from './config-values.js';

/**
 * The one module that resolves paths and settings.
 * Precedence: explicit options (flags) > environment (NOBURN_*) > $NOBURN_HOME/config.json > defaults.
 *
 * Every setting is declared once, in SETTINGS below: its config.json key, its environment
 * variable, how a value is read, its default. The config type, the known keys of
 * config.json (anything else is an error, with a suggestion), `noburn config show` and
 * docs/config.md all follow from that table: adding a setting is adding one entry.
 */
interface Setting<T> {
  /** The key in config.json; absent when the file cannot set it. */
  file?: string;
  /** The environment variable; absent when the environment cannot set it. */
  env?: string;
  /** Reads a config.json value or an environment string (undefined: not set). */
  parse: Parse<T>;
  dflt: (home: string) => T;
  /** Shown redacted by `noburn config show`. */
  secret?: boolean;
  /** An object setting whose entries add up: the file's, then those given as options. */
  merge?: boolean;
  /** One line for `noburn config show` and docs/config.md. */
  doc: string;
}

const setting = <T>(s: Setting<T>): Setting<T> => s;
const DEFAULT_PROJECT = 'default';
const seconds =
  (max: number): Parse<number> =>
  (v, name) => {
    const s = numIn(1, max)(v, name);
    return s === undefined ? undefined : s * 1000;
  };

export const SETTINGS = {
  store: setting<string>({ file: 'store', env: 'NOBURN_STORE', parse: str, dflt: (home) => join(home, 'noburn.db'), doc: 'the store serve and keys act on: a file path or a postgres:// URL' }),
  url: setting<string | null>({ file: 'url', env: 'NOBURN_URL', parse: httpUrl, dflt: () => null, doc: 'the noburn serve to use (remote mode); unset: the local ledger' }),
  apiKey: setting<string | null>({ file: 'apiKey', env: 'NOBURN_API_KEY', parse: str, dflt: () => null, secret: true, doc: 'the API key for NOBURN_URL' }),
  projectId: setting<string>({ file: 'projectId', env: 'NOBURN_PROJECT_ID', parse: str, dflt: () => DEFAULT_PROJECT, doc: 'the project of the local ledger / mirror' }),
  runId: setting<string | null>({ env: 'NOBURN_RUN_ID', parse: str, dflt: () => null, doc: 'the default run of checks and records (set by noburn run)' }),
  timeoutMs: setting<number>({ file: 'timeoutMs', env: 'NOBURN_TIMEOUT_MS', parse: numIn(1, 600_000), dflt: () => 2000, doc: 'how long a request to the server may take (ms)' }),
  holdTtlMs: setting<number>({ file: 'holdTtlSeconds', env: 'NOBURN_HOLD_TTL_SECONDS', parse: seconds(7 * 24 * 3600), dflt: () => 600_000, doc: 'seconds an unsettled hold counts (in the file and env: seconds)' }),
  onError: setting<'allow' | 'block'>({ file: 'onError', env: 'NOBURN_ON_ERROR', parse: oneOf(['allow', 'block'] as const), dflt: () => 'allow', doc: 'when the authority cannot be reached and no known cap blocks: allow or block' }),
  unknownModel: setting<'block' | 'allow'>({ file: 'unknownModel', env: 'NOBURN_UNKNOWN_MODEL', parse: oneOf(['block', 'allow'] as const), dflt: () => 'block', doc: 'checks of models with no known price: block or allow (unpriced)' }),
  fallbackPrice: setting<ModelPriceOverride | null>({ file: 'fallbackPrice', parse: optionalPrice, dflt: () => null, doc: 'price for models with no known price, instead of blocking them' }),
  prices: setting<Record<string, ModelPriceOverride>>({ file: 'prices', parse: prices, dflt: () => ({}), merge: true, doc: 'per-model prices (USD per million tokens) that win over the price data' }),
  budgetCapUsd: setting<number | null>({ file: 'budgetCapUsd', env: 'NOBURN_BUDGET_CAP_USD', parse: numIn(0, 1_000_000), dflt: () => null, doc: 'the fallback cap: local cap (USD) used only when the authority cannot be reached' }),
  minTokensOut: setting<number>({ file: 'minTokensOut', env: 'NOBURN_MIN_TOKENS_OUT', parse: numIn(1, 1_000_000), dflt: () => 256, doc: 'the smallest output bound a clamped check holds; below it the call is refused' }),
  inputMargin: setting<number | Record<string, number>>({ file: 'inputMargin', parse: inputMargin, dflt: () => ({}), doc: 'input margin for tokenizer counts: a factor, or factors by "provider/model", "model", "provider", "default"' }),
  allowUnmetered: setting<boolean>({ file: 'allowUnmetered', parse: bool, dflt: () => false, doc: 'noburn run and guard.fetch(): forward calls noburn cannot price instead of refusing them' }),
  azureDeployments: setting<Record<string, string>>({ file: 'azureDeployments', parse: deployments, dflt: () => ({}), merge: true, doc: 'noburn run and guard.fetch(): Azure deployment name -> the model it serves, for pricing' }),
  // At least a minute (a shorter idle TTL would end runs between two calls); at most a year.
  runIdleTtlMs: setting<number>({ file: 'runIdleTtlMs', env: 'NOBURN_RUN_IDLE_TTL_MS', parse: numIn(60_000, 366 * 24 * 3600 * 1000), dflt: () => DEFAULT_RUN_IDLE_TTL_MS, doc: 'an open run with no activity for this long (ms) ends by itself as abandoned' }),
  stopGraceMs: setting<number>({ file: 'stopGraceMs', env: 'NOBURN_STOP_GRACE_MS', parse: numIn(0, 600_000, true), dflt: () => 5000, doc: 'noburn run: ms between SIGTERM and SIGKILL when the child is stopped' }),
  logLevel: setting<LogLevel>({ file: 'logLevel', env: 'NOBURN_LOG_LEVEL', parse: logLevel, dflt: () => 'info', doc: 'serve: the lowest level logged (debug, info, warn, error; anything else: info)' }),
  alertsWebhook: setting<string | null>({ file: 'alerts.webhook', env: 'NOBURN_ALERTS_WEBHOOK', parse: webhookUrl, dflt: () => null, secret: true, doc: 'alerts: the URL each fired alert is POSTed to as JSON (Slack-compatible text)' }),
  alertsCommand: setting<string | null>({ file: 'alerts.command', env: 'NOBURN_ALERTS_COMMAND', parse: str, dflt: () => null, doc: 'alerts: a shell command run per fired alert, the alert JSON on its stdin' }),
  debug: setting<boolean>({ env: 'NOBURN_DEBUG', parse: present, dflt: () => false, doc: 'the CLI prints the stack of an internal error (any non-empty value)' }),
};

type Settings = typeof SETTINGS;
type Value<S> = S extends Setting<infer T> ? T : never;

export type NoburnConfig = {
  home: string;
  /** The local ledger (embedded mode) or mirror (remote mode). */
  dbPath: string;
} & { [K in keyof Settings]: Value<Settings[K]> };

export type ConfigOverrides = Partial<NoburnConfig>;

type Env = Record<string, string | undefined>;

const FILE_KEYS: readonly string[] = Object.values(SETTINGS as Record<string, Setting<unknown>>).flatMap((s) => (s.file ? [s.file] : []));
/** The config.json keys this build knows (a dotted key, `alerts.webhook`, is a key of an object: `alerts`). */
export const CONFIG_FILE_KEYS: readonly string[] = [...new Set(FILE_KEYS.map((k) => k.split('.')[0] as string))];

/** The keys known inside an object key of config.json (`alerts` -> webhook, command). */
function nestedKeys(top: string): string[] {
  return FILE_KEYS.filter((k) => k.startsWith(`${top}.`)).map((k) => k.slice(top.length + 1));
}

/** A file setting's value: `a.b` is the key b of the object a. */
function fileValue(file: Record<string, unknown>, key: string): unknown {
  const [top, sub] = key.split('.') as [string, string | undefined];
  if (sub === undefined) return file[key];
  const o = file[top];
  return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[sub] : undefined;
}

export function resolveHome(overrides: ConfigOverrides = {}, env: Env = process.env): string {
  const raw = overrides.home ?? env['NOBURN_HOME'] ?? join(homedir(), '.noburn');
  if (raw.trim() === '') throw new NoburnConfigError('NOBURN_HOME is empty');
  return resolve(raw);
}

export function configPath(home: string): string {
  return join(home, 'config.json');
}

/** Reads and checks a config.json: a JSON object of known keys. A missing file is an empty one (unless mustExist). */
export function readConfigFile(path: string, opts: { mustExist?: boolean } = {}): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && opts.mustExist !== true) return {};
    throw new NoburnConfigError(`cannot read ${path}: ${code ?? String(e)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new NoburnConfigError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new NoburnConfigError(`${path} must hold a JSON object`);
  }
  // A misspelt key must not be silently ignored ("onErorr": "block" would leave fail-open).
  rejectUnknownKeys(parsed as Record<string, unknown>, CONFIG_FILE_KEYS, path);
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    const sub = nestedKeys(k);
    if (sub.length === 0) continue;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new NoburnConfigError(`${path}: ${k} must be an object (keys: ${sub.join(', ')})`);
    rejectUnknownKeys(v as Record<string, unknown>, sub, `${path}: ${k}`);
  }
  return parsed as Record<string, unknown>;
}

export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export interface ResolvedSetting {
  key: string;
  /** The config.json key and environment variable that can set it (null: cannot). */
  file: string | null;
  env: string | null;
  source: ConfigSource;
  /** Where the value came from: the variable, the file's path, or null (flag, default). */
  from: string | null;
  value: unknown;
  secret: boolean;
  doc: string;
}

/** The effective config and, for each setting, where its value came from (`noburn config show`). */
export function explainConfig(
  overrides: ConfigOverrides = {},
  env: Env = process.env,
  /** Another config file to read instead of $NOBURN_HOME/config.json (`noburn config validate FILE`). */
  filePath?: string,
): { config: NoburnConfig; settings: ResolvedSetting[]; file: string } {
  const home = resolveHome(overrides, env);
  const path = filePath ?? configPath(home);
  const file = readConfigFile(path);
  const config: Record<string, unknown> = { home, dbPath: join(home, 'noburn.db') };
  const settings: ResolvedSetting[] = [];
  const over = overrides as Record<string, unknown>;
  for (const [key, s] of Object.entries(SETTINGS as Record<string, Setting<unknown>>)) {
    const envName = s.env ?? null;
    const fileKey = s.file ?? null;
    // An empty variable counts as unset (as in most tools).
    const fromEnv = envName === null ? undefined : s.parse(env[envName] || undefined, envName);
    const fromFile = fileKey === null ? undefined : s.parse(fileValue(file, fileKey), fileKey);
    let value: unknown;
    let source: ConfigSource;
    let from: string | null = null;
    if (over[key] !== undefined) {
      value = over[key];
      source = 'flag';
    } else if (fromEnv !== undefined) {
      value = fromEnv;
      source = 'env';
      from = envName;
    } else if (fromFile !== undefined) {
      value = fromFile;
      source = 'file';
      from = path;
    } else {
      value = s.dflt(home);
      source = 'default';
    }
    if (s.merge === true && source === 'flag' && fromFile !== undefined) value = { ...(fromFile as object), ...(value as object) };
    if (key === 'url' && source === 'flag') value = httpUrl(value, 'url') ?? null;
    config[key] = value;
    settings.push({ key, file: fileKey, env: envName, source, from, value, secret: s.secret === true, doc: s.doc });
  }
  return { config: config as NoburnConfig, settings, file: path };
}

export function resolveConfig(overrides: ConfigOverrides = {}, env: Env = process.env): NoburnConfig {
  return explainConfig(overrides, env).config;
}

/**
 * One setting from the environment alone (no config file read; undefined when unset or
 * invalid), for a path that must not fail itself: the CLI reporting an internal error.
 */
export function envSetting<K extends keyof Settings>(key: K, env: Env = process.env): Value<Settings[K]> | undefined {
  const s = SETTINGS[key] as Setting<Value<Settings[K]>>;
  if (s.env === undefined) return undefined;
  try {
    return s.parse(env[s.env] || undefined, s.env);
  } catch {
    return undefined;
  }
}
