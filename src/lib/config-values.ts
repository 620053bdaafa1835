import { NoburnConfigError } from './errors.js';
import { closeEnough, editDistance } from './nearest.js';

/**
 * How config values are read (config.json values and NOBURN_* strings alike) and checked.
 * Each parser returns undefined for "not set" and throws NoburnConfigError with the
 * setting's name for a bad value. Used by the settings table in config.ts.
 */
export interface ModelPriceOverride {
  /** USD per million tokens. */
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok?: number;
  cacheWritePerMTok?: number;
}

export type Parse<T> = (v: unknown, name: string) => T | undefined;

const unset = (v: unknown): boolean => v === undefined || v === null || v === '';

export function str(v: unknown, name: string): string | undefined {
  if (unset(v)) return undefined;
  if (typeof v !== 'string') throw new NoburnConfigError(`config: ${name} must be a string`);
  return v;
}

export function num(v: unknown, name: string, opts: { min: number; max: number; integer?: boolean }): number | undefined {
  if (unset(v)) return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < opts.min || n > opts.max || (opts.integer === true && !Number.isInteger(n))) {
    const what = opts.integer === true ? 'a whole number' : 'a number';
    throw new NoburnConfigError(`config: ${name} must be ${what} between ${opts.min} and ${opts.max} (got ${JSON.stringify(v)})`);
  }
  return n;
}

export const numIn =
  (min: number, max: number, integer = false): Parse<number> =>
  (v, name) =>
    num(v, name, { min, max, integer });

export const oneOf =
  <T extends string>(allowed: readonly T[]): Parse<T> =>
  (v, name) => {
    if (unset(v)) return undefined;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    throw new NoburnConfigError(`config: ${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
  };

export function bool(v: unknown, name: string): boolean | undefined {
  if (unset(v)) return undefined;
  if (v === true || v === 'true' || v === '1') return true;
  if (v === false || v === 'false' || v === '0') return false;
  throw new NoburnConfigError(`config: ${name} must be true or false (got ${JSON.stringify(v)})`);
}

function object(v: unknown, name: string, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new NoburnConfigError(`config: ${name} must be ${what}`);
  return v as Record<string, unknown>;
}

/** The known key closest to a misspelt one, if any is close enough to be meant. */
export function suggest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const dist = k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, k);
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return best !== null && bestD <= closeEnough(key) ? best : null;
}

/** Throws for the first key of `o` that is not in `known`, naming the closest known one. */
export function rejectUnknownKeys(o: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (known.includes(k)) continue;
    const s = suggest(k, known);
    throw new NoburnConfigError(`${where}: unknown key ${JSON.stringify(k)}${s ? ` (did you mean ${JSON.stringify(s)}?)` : ` (known keys: ${known.join(', ')})`}`);
  }
}

const PRICE_KEYS = ['inputPerMTok', 'outputPerMTok', 'cacheReadPerMTok', 'cacheWritePerMTok'] as const;

export function priceOverride(v: unknown, name: string): ModelPriceOverride {
  const o = object(v, name, 'an object');
  rejectUnknownKeys(o, PRICE_KEYS, `config: ${name}`);
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

export function optionalPrice(v: unknown, name: string): ModelPriceOverride | undefined {
  return v === undefined || v === null ? undefined : priceOverride(v, name);
}

export function prices(v: unknown, name: string): Record<string, ModelPriceOverride> | undefined {
  if (v === undefined || v === null) return undefined;
  const o = object(v, name, 'an object of model -> price');
  const out: Record<string, ModelPriceOverride> = {};
  for (const [model, p] of Object.entries(o)) out[model] = priceOverride(p, `${name}.${model}`);
  return out;
}

export function deployments(v: unknown, name: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const o = object(v, name, 'an object of deployment name -> model');
  const out: Record<string, string> = {};
  for (const [dep, model] of Object.entries(o)) {
    if (typeof model !== 'string' || model === '') throw new NoburnConfigError(`config: ${name}.${dep} must be a model name`);
    out[dep] = model;
  }
  return out;
}

const MARGIN_RANGE = { min: 1, max: 10 };

export function inputMargin(v: unknown, name: string): number | Record<string, number> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return num(v, name, MARGIN_RANGE);
  const o = object(v, name, 'a number (1 to 10) or an object of provider/model -> number');
  const out: Record<string, number> = {};
  for (const [k, f] of Object.entries(o)) {
    const n = num(f, `${name}.${k}`, MARGIN_RANGE);
    if (n === undefined) throw new NoburnConfigError(`config: ${name}.${k} must be a number between 1 and 10`);
    out[k] = n;
  }
  return out;
}

/** An http(s) URL, or a config error naming the setting (`shown`: how the bad value is quoted). */
function checkedHttpUrl(s: string, name: string, shown: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new NoburnConfigError(`${name} is not a URL${shown}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new NoburnConfigError(`${name} must be http:// or https:// (got ${u.protocol})`);
  return s;
}

/** An http(s) URL for a setting other than NOBURN_URL (the alert webhook; its value may hold a secret, so it is not echoed). */
export function webhookUrl(v: unknown, name: string): string | undefined {
  const s = str(v, name);
  return s === undefined ? undefined : checkedHttpUrl(s, name, '');
}

/** NOBURN_URL must be an http(s) URL: checked here so that a typo is a config error, not a fallback. */
export function httpUrl(v: unknown, name: string): string | undefined {
  const s = str(v, name);
  return s === undefined ? undefined : checkedHttpUrl(s, 'NOBURN_URL', `: ${JSON.stringify(s)}`);
}

/** A switch that any non-empty value turns on (NOBURN_DEBUG=1, =yes...). */
export function present(v: unknown): boolean | undefined {
  if (unset(v)) return undefined;
  return v !== false;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log level; anything else logs at "info" (a typo must not stop a server from starting). */
export function logLevel(v: unknown): LogLevel | undefined {
  if (unset(v)) return undefined;
  return (LOG_LEVELS as readonly unknown[]).includes(v) ? (v as LogLevel) : 'info';
}
