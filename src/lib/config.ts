import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { NoburnConfigError } from './errors.js';
import { DEFAULT_RUN_IDLE_TTL_MS } from './ledger/runs.js';

/**
 * The one module that resolves paths and settings.
 * Precedence: explicit options (flags) > environment (NOBURN_*) > $NOBURN_HOME/config.json > defaults.
 */
export interface ModelPriceOverride {
  /** USD per million tokens. */
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok?: number;
  cacheWritePerMTok?: number;
}

export interface NoburnConfig {
  home: string;
  /** The local ledger (embedded mode) or mirror (remote mode). */
  dbPath: string;
  /** The store `serve` and `keys` act on: a file path or a postgres:// URL. */
  store: string;
  url: string | null;
  apiKey: string | null;
  projectId: string;
  runId: string | null;
  timeoutMs: number;
  holdTtlMs: number;
  onError: 'allow' | 'block';
  unknownModel: 'block' | 'allow';
  /** Price used for models with no known price, instead of blocking them. */
  fallbackPrice: ModelPriceOverride | null;
  /** Per-model prices that win over the price data. */
  prices: Record<string, ModelPriceOverride>;
  /** Local cap used by the in-memory fallback when the authority is unreachable. */
  budgetCapUsd: number | null;
  /** An open run with no activity for this long ends by itself, as `abandoned` (default 24 h). */
  runIdleTtlMs: number;
  /** The smallest output bound a clamped check holds; below it the call is refused. */
  minTokensOut: number;
  /**
   * Input margin for checks whose input is a local tokenizer count: one factor for all, or
   * factors keyed by "provider/model", "model", "provider" or "default" (built-in defaults otherwise).
   */
  inputMargin: number | Record<string, number>;
  /** `noburn run`: forward calls the proxy cannot price instead of refusing them (docs/run.md). */
  allowUnmetered: boolean;
  /** `noburn run`: Azure deployment name -> the model it serves, for pricing. */
  azureDeployments: Record<string, string>;
}

export type ConfigOverrides = Partial<NoburnConfig>;

type Env = Record<string, string | undefined>;

const DEFAULT_PROJECT = 'default';

export function resolveHome(overrides: ConfigOverrides = {}, env: Env = process.env): string {
  const raw = overrides.home ?? env['NOBURN_HOME'] ?? join(homedir(), '.noburn');
  if (raw.trim() === '') throw new NoburnConfigError('NOBURN_HOME is empty');
  return resolve(raw);
}

function readConfigFile(home: string): Record<string, unknown> {
  const path = join(home, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
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
  return parsed as Record<string, unknown>;
}

function str(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new NoburnConfigError(`config: ${name} must be a string`);
  return v;
}

function num(v: unknown, name: string, opts: { min: number; max: number }): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < opts.min || n > opts.max) {
    throw new NoburnConfigError(`config: ${name} must be a number between ${opts.min} and ${opts.max} (got ${JSON.stringify(v)})`);
  }
  return n;
}

function oneOf<T extends string>(v: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new NoburnConfigError(`config: ${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
}

function priceOverride(v: unknown, name: string): ModelPriceOverride {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new NoburnConfigError(`config: ${name} must be an object`);
  const o = v as Record<string, unknown>;
  const range = { min: 0, max: 1_000_000 };
  const inputPerMTok = num(o['inputPerMTok'], `${name}.inputPerMTok`, range);
  const outputPerMTok = num(o['outputPerMTok'], `${name}.outputPerMTok`, range);
  if (inputPerMTok === undefined || outputPerMTok === undefined) {
    throw new NoburnConfigError(`config: ${name} needs inputPerMTok and outputPerMTok (USD per million tokens)`);
  }
  const out: ModelPriceOverride = { inputPerMTok, outputPerMTok };
  const cr = num(o['cacheReadPerMTok'], `${name}.cacheReadPerMTok`, range);
  const cw = num(o['cacheWritePerMTok'], `${name}.cacheWritePerMTok`, range);
  if (cr !== undefined) out.cacheReadPerMTok = cr;
  if (cw !== undefined) out.cacheWritePerMTok = cw;
  return out;
}

const MARGIN_RANGE = { min: 1, max: 10 };

function inputMargin(v: unknown): number | Record<string, number> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return num(v, 'inputMargin', MARGIN_RANGE);
  if (typeof v !== 'object' || Array.isArray(v)) throw new NoburnConfigError('config: inputMargin must be a number (1 to 10) or an object of provider/model -> number');
  const out: Record<string, number> = {};
  for (const [k, f] of Object.entries(v as Record<string, unknown>)) {
    const n = num(f, `inputMargin.${k}`, MARGIN_RANGE);
    if (n === undefined) throw new NoburnConfigError(`config: inputMargin.${k} must be a number between 1 and 10`);
    out[k] = n;
  }
  return out;
}

function prices(v: unknown): Record<string, ModelPriceOverride> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new NoburnConfigError('config: prices must be an object of model -> price');
  const out: Record<string, ModelPriceOverride> = {};
  for (const [model, p] of Object.entries(v as Record<string, unknown>)) out[model] = priceOverride(p, `prices.${model}`);
  return out;
}

/** NOBURN_URL must be an http(s) URL: checked here so that a typo is a config error, not a fallback. */
function httpUrl(v: string | null): string | null {
  if (v === null) return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new NoburnConfigError(`NOBURN_URL is not a URL: ${JSON.stringify(v)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new NoburnConfigError(`NOBURN_URL must be http:// or https:// (got ${u.protocol})`);
  return v;
}

export function resolveConfig(overrides: ConfigOverrides = {}, env: Env = process.env): NoburnConfig {
  const home = resolveHome(overrides, env);
  const file = readConfigFile(home);
  const pick = <T>(flag: T | undefined, envVal: T | undefined, fileVal: T | undefined, dflt: T): T =>
    flag !== undefined ? flag : envVal !== undefined ? envVal : fileVal !== undefined ? fileVal : dflt;

  const dbPath = join(home, 'noburn.db');
  const timeoutRange = { min: 1, max: 600_000 };
  const ttlRange = { min: 1, max: 7 * 24 * 3600 };
  const ttlEnv = num(env['NOBURN_HOLD_TTL_SECONDS'], 'NOBURN_HOLD_TTL_SECONDS', ttlRange);
  const ttlFile = num(file['holdTtlSeconds'], 'holdTtlSeconds', ttlRange);
  const capRange = { min: 0, max: 1_000_000 };
  // At least a minute (a shorter idle TTL would end runs between two calls); at most a year.
  const idleRange = { min: 60_000, max: 366 * 24 * 3600 * 1000 };

  const fallbackFile = file['fallbackPrice'];
  return {
    home,
    dbPath,
    store: pick(overrides.store, env['NOBURN_STORE'] || undefined, str(file['store'], 'store'), dbPath),
    url: httpUrl(pick(overrides.url, env['NOBURN_URL'] || undefined, str(file['url'], 'url'), null)),
    apiKey: pick(overrides.apiKey, env['NOBURN_API_KEY'] || undefined, str(file['apiKey'], 'apiKey'), null),
    projectId: pick(overrides.projectId, env['NOBURN_PROJECT_ID'] || undefined, str(file['projectId'], 'projectId'), DEFAULT_PROJECT),
    runId: pick(overrides.runId, env['NOBURN_RUN_ID'] || undefined, undefined, null),
    timeoutMs: pick(
      overrides.timeoutMs,
      num(env['NOBURN_TIMEOUT_MS'], 'NOBURN_TIMEOUT_MS', timeoutRange),
      num(file['timeoutMs'], 'timeoutMs', timeoutRange),
      2000,
    ),
    holdTtlMs: pick(overrides.holdTtlMs, ttlEnv === undefined ? undefined : ttlEnv * 1000, ttlFile === undefined ? undefined : ttlFile * 1000, 600_000),
    onError: pick(overrides.onError, oneOf(env['NOBURN_ON_ERROR'], 'NOBURN_ON_ERROR', ['allow', 'block'] as const), oneOf(file['onError'], 'onError', ['allow', 'block'] as const), 'allow'),
    unknownModel: pick(
      overrides.unknownModel,
      oneOf(env['NOBURN_UNKNOWN_MODEL'], 'NOBURN_UNKNOWN_MODEL', ['block', 'allow'] as const),
      oneOf(file['unknownModel'], 'unknownModel', ['block', 'allow'] as const),
      'block',
    ),
    fallbackPrice: pick(overrides.fallbackPrice, undefined, fallbackFile === undefined || fallbackFile === null ? undefined : priceOverride(fallbackFile, 'fallbackPrice'), null),
    prices: { ...prices(file['prices']), ...(overrides.prices ?? {}) },
    budgetCapUsd: pick(
      overrides.budgetCapUsd,
      num(env['NOBURN_BUDGET_CAP_USD'], 'NOBURN_BUDGET_CAP_USD', capRange),
      num(file['budgetCapUsd'], 'budgetCapUsd', capRange),
      null,
    ),
    runIdleTtlMs: pick(
      overrides.runIdleTtlMs,
      num(env['NOBURN_RUN_IDLE_TTL_MS'], 'NOBURN_RUN_IDLE_TTL_MS', idleRange),
      num(file['runIdleTtlMs'], 'runIdleTtlMs', idleRange),
      DEFAULT_RUN_IDLE_TTL_MS,
    ),
    minTokensOut: pick(
      overrides.minTokensOut,
      num(env['NOBURN_MIN_TOKENS_OUT'], 'NOBURN_MIN_TOKENS_OUT', { min: 1, max: 1_000_000 }),
      num(file['minTokensOut'], 'minTokensOut', { min: 1, max: 1_000_000 }),
      256,
    ),
    inputMargin: pick(overrides.inputMargin, undefined, inputMargin(file['inputMargin']), {}),
    allowUnmetered: pick(overrides.allowUnmetered, undefined, bool(file['allowUnmetered'], 'allowUnmetered'), false),
    azureDeployments: { ...deployments(file['azureDeployments']), ...(overrides.azureDeployments ?? {}) },
  };
}

function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new NoburnConfigError(`config: ${name} must be true or false`);
  return v;
}

function deployments(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new NoburnConfigError('config: azureDeployments must be an object of deployment name -> model');
  const out: Record<string, string> = {};
  for (const [name, model] of Object.entries(v as Record<string, unknown>)) {
    if (typeof model !== 'string' || model === '') throw new NoburnConfigError(`config: azureDeployments.${name} must be a model name`);
    out[name] = model;
  }
  return out;
}
