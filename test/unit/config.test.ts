import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envSetting, resolveConfig } from '../../src/lib/config.js';
import { NoburnConfigError } from '../../src/lib/errors.js';

// Tests clean up their temp folders.
const made: string[] = [];
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

function home(config?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'nb-config-'));
  made.push(dir);
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

describe('resolveConfig precedence: flags > env > config.json > defaults', () => {
  it('uses defaults with no file and no env', () => {
    const h = home();
    const c = resolveConfig({}, { NOBURN_HOME: h });
    expect(c).toMatchObject({ home: h, dbPath: join(h, 'noburn.db'), store: join(h, 'noburn.db'), url: null, projectId: 'default', timeoutMs: 2000, holdTtlMs: 600_000, onError: 'allow', unknownModel: 'block' });
  });
  it('config file beats defaults, env beats file, flags beat env', () => {
    const h = home({ timeoutMs: 100, onError: 'block', projectId: 'fromfile', holdTtlSeconds: 5 });
    expect(resolveConfig({}, { NOBURN_HOME: h })).toMatchObject({ timeoutMs: 100, onError: 'block', projectId: 'fromfile', holdTtlMs: 5000 });
    const env = { NOBURN_HOME: h, NOBURN_TIMEOUT_MS: '200', NOBURN_ON_ERROR: 'allow', NOBURN_HOLD_TTL_SECONDS: '7' };
    expect(resolveConfig({}, env)).toMatchObject({ timeoutMs: 200, onError: 'allow', projectId: 'fromfile', holdTtlMs: 7000 });
    expect(resolveConfig({ timeoutMs: 300, projectId: 'flag' }, env)).toMatchObject({ timeoutMs: 300, projectId: 'flag' });
  });
  it('merges per-model prices from the file with those given in code', () => {
    const h = home({ prices: { a: { inputPerMTok: 1, outputPerMTok: 2 } } });
    const c = resolveConfig({ prices: { b: { inputPerMTok: 3, outputPerMTok: 4 } } }, { NOBURN_HOME: h });
    expect(Object.keys(c.prices).sort()).toEqual(['a', 'b']);
  });
  it.each([
    ['not json', '{nope'],
    ['not an object', '[1,2]'],
    ['wrong type', { timeoutMs: 'soon' }],
    ['bad enum', { onError: 'maybe' }],
    ['price without output', { prices: { m: { inputPerMTok: 1 } } }],
    ['negative price', { prices: { m: { inputPerMTok: -1, outputPerMTok: 1 } } }],
  ])('rejects a config file with %s', (_name, content) => {
    const h = home(content);
    expect(() => resolveConfig({}, { NOBURN_HOME: h })).toThrow(NoburnConfigError);
  });
  it('rejects a bad env value', () => {
    expect(() => resolveConfig({}, { NOBURN_HOME: home(), NOBURN_TIMEOUT_MS: 'x' })).toThrow(/NOBURN_TIMEOUT_MS/);
  });
});

describe('the process switches are settings too (NOBURN_STOP_GRACE_MS, NOBURN_LOG_LEVEL, NOBURN_DEBUG)', () => {
  it('stopGraceMs and logLevel: flags > env > config.json > defaults', () => {
    const bare = home();
    expect(resolveConfig({}, { NOBURN_HOME: bare })).toMatchObject({ stopGraceMs: 5000, logLevel: 'info', debug: false });
    const h = home({ stopGraceMs: 250, logLevel: 'warn' });
    expect(resolveConfig({}, { NOBURN_HOME: h })).toMatchObject({ stopGraceMs: 250, logLevel: 'warn' });
    const env = { NOBURN_HOME: h, NOBURN_STOP_GRACE_MS: '0', NOBURN_LOG_LEVEL: 'debug' };
    expect(resolveConfig({}, env)).toMatchObject({ stopGraceMs: 0, logLevel: 'debug' });
    expect(resolveConfig({ stopGraceMs: 10, logLevel: 'error' }, env)).toMatchObject({ stopGraceMs: 10, logLevel: 'error' });
  });

  it('a bad grace period is a config error naming the variable; an unknown log level logs at info', () => {
    const h = home();
    for (const bad of ['soon', '1.5', '-1', '600001']) {
      expect(() => resolveConfig({}, { NOBURN_HOME: h, NOBURN_STOP_GRACE_MS: bad })).toThrow(/NOBURN_STOP_GRACE_MS/);
    }
    expect(resolveConfig({}, { NOBURN_HOME: h, NOBURN_LOG_LEVEL: 'verbose' }).logLevel).toBe('info');
  });

  it('NOBURN_DEBUG: any non-empty value turns it on, and it can be read without the config file', () => {
    const h = home('{ broken json');
    for (const v of ['1', 'yes', 'false']) expect(envSetting('debug', { NOBURN_HOME: h, NOBURN_DEBUG: v })).toBe(true);
    expect(envSetting('debug', { NOBURN_HOME: h, NOBURN_DEBUG: '' })).toBeUndefined();
    expect(resolveConfig({}, { NOBURN_HOME: home(), NOBURN_DEBUG: '1' }).debug).toBe(true);
  });
});
