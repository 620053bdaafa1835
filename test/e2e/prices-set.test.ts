/**
 * `noburn prices set|list` and "did you mean" (docs/cli.md "prices"): the built CLI as a
 * real process with its own NOBURN_HOME; the config file is read back from disk.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cleanEnv, lines, tempHome } from '../helpers/cli.js';
import { bindCli, nano, useM1Suite } from '../helpers/e2e.js';

const suite = useM1Suite('noburn-prices-');
const USAGE = 2;
const configFile = () => join(suite.home, 'config.json');
const readConfig = () => JSON.parse(readFileSync(configFile(), 'utf8')) as { prices: Record<string, Record<string, number>>; [k: string]: unknown };

interface PriceRow {
  model: string;
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok: number | null;
  cacheWritePerMTok: number | null;
  source: string;
}

describe('noburn prices set', () => {
  it('writes prices.MODEL into $NOBURN_HOME/config.json, keeps the other keys, and the next check prices with it', async () => {
    writeFileSync(configFile(), JSON.stringify({ onError: 'block', prices: { m1: { inputPerMTok: 1, outputPerMTok: 2 } } }));
    const r = await suite.cli(['prices', 'set', 'my-ft', '--in', '0.15', '--out', '0.6', '--cache-read', '0.075', '--cache-write', '0.3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(configFile());
    const cfg = readConfig();
    expect(cfg['onError']).toBe('block');
    expect(cfg.prices).toEqual({ m1: { inputPerMTok: 1, outputPerMTok: 2 }, 'my-ft': { inputPerMTok: 0.15, outputPerMTok: 0.6, cacheReadPerMTok: 0.075, cacheWritePerMTok: 0.3 } });
    expect((await suite.cli(['config', 'validate'])).code).toBe(0);

    const p = await suite.cli.json<PriceRow>(['prices', 'my-ft']);
    expect(p).toMatchObject({ inputPerMTok: 0.15, outputPerMTok: 0.6, cacheReadPerMTok: 0.075, cacheWritePerMTok: 0.3, source: 'config' });
    // 1000 in x 0.15 + 1000 out x 0.6 per MTok = 0.00075 USD, exactly.
    const d = await suite.cli.json<{ estimatedCostUsd: number }>(['check', '--model', 'my-ft', '--tokens-in', '1000', '--tokens-out', '1000']);
    expect(nano(d.estimatedCostUsd)).toBe(750_000);
  });

  it('replaces the whole entry of a model set again (a cache price left out is gone), and says so in --json', async () => {
    await suite.cli(['prices', 'set', 'my-ft', '--in', '1', '--out', '2', '--cache-read', '0.5']);
    const j = await suite.cli.json<PriceRow & { file: string; previous: unknown }>(['prices', 'set', 'my-ft', '--in', '3', '--out', '4']);
    expect(j).toMatchObject({ model: 'my-ft', inputPerMTok: 3, outputPerMTok: 4, cacheReadPerMTok: null, source: 'config', file: configFile(), previous: { inputPerMTok: 1, outputPerMTok: 2, cacheReadPerMTok: 0.5 } });
    expect(readConfig().prices['my-ft']).toEqual({ inputPerMTok: 3, outputPerMTok: 4 });
  });

  it('prices with 9 decimals are kept exact (nano-dollars per MTok)', async () => {
    await suite.cli(['prices', 'set', 'tiny', '--in', '0.000000001', '--out', '999999.123456789']);
    const p = await suite.cli.json<PriceRow>(['prices', 'tiny']);
    expect(nano(p.inputPerMTok)).toBe(1);
    expect(Math.round(p.outputPerMTok * 1e9)).toBe(999_999_123_456_789);
  });

  it.each([
    ['a negative price', ['--in', '-1', '--out', '1']],
    ['an exponent', ['--in', '1e3', '--out', '1']],
    ['10 decimals (not exact in nano-dollars)', ['--in', '0.1234567891', '--out', '1']],
    ['above 1000000', ['--in', '1000000.5', '--out', '1']],
    ['not a number', ['--in', 'cheap', '--out', '1']],
    ['a dollar sign', ['--in', '$1', '--out', '1']],
    ['no --out', ['--in', '1']],
  ])('bad input (%s): exit 2, one line, config.json untouched', async (_name, flags) => {
    const before = readFileSync(configFile(), 'utf8');
    const r = await suite.cli(['prices', 'set', 'x', ...flags]);
    expect(r.code).toBe(USAGE);
    expect(lines(r.stderr), r.stderr).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(configFile(), 'utf8')).toBe(before);
  });

  it('a config.json that is already bad is not rewritten: exit 2 naming the problem, the file byte for byte as it was', async () => {
    const bad = '{"onErorr": "block", "prices": {}}';
    writeFileSync(configFile(), bad);
    const r = await suite.cli(['prices', 'set', 'x', '--in', '1', '--out', '1']);
    expect(r.code).toBe(USAGE);
    expect(r.stderr).toMatch(/did you mean "onError"/);
    expect(readFileSync(configFile(), 'utf8')).toBe(bad);
  });

  it('writes by rename: no temporary file is left, and the old file keeps its permissions; a new file is owner-only', async () => {
    chmodSync(configFile(), 0o640);
    expect((await suite.cli(['prices', 'set', 'x', '--in', '1', '--out', '1'])).code).toBe(0);
    expect(statSync(configFile()).mode & 0o777).toBe(0o640);
    expect(readdirSync(suite.home).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const fresh = tempHome('noburn-prices-new-');
    const r = await bindCli(suite.dist.cli, fresh)(['prices', 'set', 'x', '--in', '1', '--out', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(fresh, 'config.json')).mode & 0o777).toBe(0o600);
  });

  it('a NOBURN_HOME that cannot be written: exit 4 with one line, nothing created', async () => {
    const file = join(suite.home, 'not-a-dir');
    writeFileSync(file, '');
    const r = await suite.cli(['prices', 'set', 'x', '--in', '1', '--out', '1'], { env: { NOBURN_HOME: join(file, 'home') } });
    expect(r.code).toBe(4);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('cannot write');
  });

  it('remote mode: the local file is written and stderr says the server prices with its own config', async () => {
    const r = await suite.cli(['prices', 'set', 'x', '--in', '1', '--out', '1'], { env: { NOBURN_URL: 'http://127.0.0.1:9', NOBURN_API_KEY: 'nb_key_x.y' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/NOBURN_URL is set: the server prices checks and records with its own config\.json/);
    expect(readConfig().prices['x']).toEqual({ inputPerMTok: 1, outputPerMTok: 1 });
  });
});

describe('noburn prices list', () => {
  it('--source override (or config) lists the config prices only; --source genai-prices the price data only; no flag both, config first', async () => {
    await suite.cli(['prices', 'set', 'my-ft', '--in', '0.15', '--out', '0.6']);
    for (const source of ['override', 'config']) {
      const rows = await suite.cli.json<PriceRow[]>(['prices', 'list', '--source', source]);
      expect(rows).toEqual([
        { model: 'm1', inputPerMTok: 1, outputPerMTok: 2, cacheReadPerMTok: null, cacheWritePerMTok: null, source: 'config', matched: null },
        { model: 'my-ft', inputPerMTok: 0.15, outputPerMTok: 0.6, cacheReadPerMTok: null, cacheWritePerMTok: null, source: 'config', matched: null },
      ]);
    }
    const data = await suite.cli.json<PriceRow[]>(['prices', 'list', '--source', 'genai-prices']);
    expect(data.every((p) => p.source === 'genai-prices')).toBe(true);
    // The same price `noburn prices gpt-4o` resolves.
    const one = await suite.cli.json<PriceRow>(['prices', 'gpt-4o']);
    expect(data.find((p) => p.model === 'openai:gpt-4o')).toMatchObject({ inputPerMTok: one.inputPerMTok, outputPerMTok: one.outputPerMTok, cacheReadPerMTok: one.cacheReadPerMTok });
    const all = await suite.cli.json<PriceRow[]>(['prices', 'list']);
    expect(all.map((p) => p.model).slice(0, 2)).toEqual(['m1', 'my-ft']);
    expect(all).toHaveLength(data.length + 2);
  });

  it('text: a table on stdout; no config price: a hint on stderr; a bad --source: exit 2', async () => {
    const t = await suite.cli(['prices', 'list', '--source', 'override']);
    expect(t.stdout).toMatch(/^MODEL\s+INPUT\s+OUTPUT\s+CACHE READ\s+CACHE WRITE\s+SOURCE\nm1\s+\$1\s+\$2\s+-\s+-\s+config\n$/);
    writeFileSync(configFile(), '{}');
    const none = await suite.cli(['prices', 'list', '--source', 'override']);
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toContain('noburn prices set MODEL');
    expect((await suite.cli(['prices', 'list', '--source', 'cheap'])).code).toBe(USAGE);
  });

  it('a reader that stops early (| head -1): exit 0, no EPIPE crash on stderr', () => {
    const r = spawnSync('bash', ['-c', 'set -o pipefail; "$NODE" "$CLI" prices list | head -1'], {
      encoding: 'utf8',
      env: cleanEnv({ NOBURN_HOME: suite.home, HOME: suite.home, NODE: process.execPath, CLI: suite.dist.cli }),
    });
    expect(r.stdout).toMatch(/^MODEL\s+INPUT/);
    expect(r.stderr).not.toContain('EPIPE');
    expect(r.status, r.stderr).toBe(0);
  });

  it('noburn prices MODEL still answers for a model, and `noburn prices` alone lists the overrides', async () => {
    expect((await suite.cli.json<PriceRow>(['prices', 'm1'])).source).toBe('config');
    const r = await suite.cli(['prices']);
    expect(r.stdout).toContain('m1: in $1/MTok');
  });
});

describe('did you mean', () => {
  it('check of an unknown model close to a known one: blocked, and the nearest known names on stderr', async () => {
    const r = await suite.cli(['check', '--model', 'gpt-4o-mni', '--tokens-in', '10', '--tokens-out', '10']);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)[0]).toMatch(/^blocked: unknown_model_price/);
    expect(lines(r.stderr)[1]).toMatch(/^ {2}did you mean gpt-4o-mini(, |\?)/);
    // --json: stdout stays the decision alone
    const j = await suite.cli(['check', '--model', 'gpt-4o-mni', '--tokens-in', '10', '--tokens-out', '10', '--json']);
    expect((JSON.parse(j.stdout) as { blockReason: string }).blockReason).toBe('unknown_model_price');
    expect(j.stderr).toContain('did you mean gpt-4o-mini');
  });

  it('an unpriced check allowed by unknownModel "allow" gets the hint too', async () => {
    const r = await suite.cli(['check', '--model', 'claude-sonet-4-5', '--tokens-in', '10', '--tokens-out', '10'], { env: { NOBURN_UNKNOWN_MODEL: 'allow' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\[unpriced model\]\n {2}did you mean claude-sonnet-4-5\b/);
  });

  it('prices MODEL: exit 5 and the hint, with the configured names among the candidates', async () => {
    await suite.cli(['prices', 'set', 'my-finetune', '--in', '1', '--out', '1']);
    const r = await suite.cli(['prices', 'my-fientune']);
    expect(r.code).toBe(5);
    expect(lines(r.stderr)[1]).toMatch(/^ {2}did you mean my-finetune(, |\?)/);
    const j = await suite.cli(['prices', 'my-fientune', '--json']);
    expect(j.code).toBe(5);
    expect((JSON.parse(j.stdout) as PriceRow).source).toBe('unknown');
    expect(j.stderr).toMatch(/^ {2}did you mean my-finetune/m);
  });

  it('nothing close: no hint (a priced check never looks)', async () => {
    const r = await suite.cli(['check', '--model', 'zzqqxxyywwvv', '--tokens-in', '10', '--tokens-out', '10']);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('did you mean');
    const ok = await suite.cli(['check', '--model', 'm1', '--tokens-in', '10', '--tokens-out', '10']);
    expect(ok.stderr).not.toContain('did you mean');
  });

  it('prices set of a name the price data nearly knows notes the likely typo and sets it all the same', async () => {
    const r = await suite.cli(['prices', 'set', 'gpt-4o-mni', '--in', '1', '--out', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/note: gpt-4o-mni is not in the price data \(did you mean gpt-4o-mini/);
    expect(existsSync(configFile()) && readConfig().prices['gpt-4o-mni']).toEqual({ inputPerMTok: 1, outputPerMTok: 1 });
  });
});
