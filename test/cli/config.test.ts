/**
 * config.json holds only known keys: a misspelt one is a usage error (exit 2) naming the
 * closest known key, for every command, and changes nothing. `noburn config show` gives
 * each setting's value and where it came from (secrets redacted); `config validate`
 * checks a file without using it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_FILE_KEYS, SETTINGS } from '../../src/lib/config.js';
import { runCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';

const dist = useDist();

const oneLine = (s: string) => expect(s.trim().split('\n')).toHaveLength(1);

describe('unknown keys in config.json', () => {
  it('"onErorr" is exit 2 with "did you mean onError", for check, and no ledger is created', async () => {
    const home = tempHome();
    writeConfig(home, { onErorr: 'block' });
    const r = await runCli(dist.cli, ['check', '--model', 'gpt-4o', '--tokens-in', '10', '--tokens-out', '10'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown key "onErorr" (did you mean "onError"?)');
    expect(r.stderr).toContain(join(home, 'config.json'));
    oneLine(r.stderr);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(home, 'noburn.db'))).toBe(false);
  });

  it('a misspelt key inside a price is refused too; a key far from any known one lists the known keys', async () => {
    const home = tempHome();
    writeConfig(home, { prices: { m: { inputPerMTok: 1, outputPerMTok: 2, cacheReadPerMtok: 0.5 } } });
    const r = await runCli(dist.cli, ['budget', 'show'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('prices.m: unknown key "cacheReadPerMtok" (did you mean "cacheReadPerMTok"?)');
    writeConfig(home, { zzzzzzzzzzzz: 1 });
    const r2 = await runCli(dist.cli, ['config', 'validate'], { home });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('known keys: store, url');
    oneLine(r2.stderr);
  });

  it('the known keys are the settings table (a key added there is known; a dotted one is a key of its object)', () => {
    const fromTable = [...new Set(Object.values(SETTINGS).flatMap((s) => ('file' in s && s.file ? [s.file.split('.')[0] as string] : [])))];
    expect([...CONFIG_FILE_KEYS]).toEqual(fromTable);
    expect(CONFIG_FILE_KEYS).toContain('alerts');
    for (const k of ['onError', 'holdTtlSeconds', 'minTokensOut', 'inputMargin', 'allowUnmetered', 'azureDeployments']) expect(CONFIG_FILE_KEYS).toContain(k);
  });
});

describe('the alerts object of config.json', () => {
  it('alerts.webhook / alerts.command are read from the file and the env wins; an unknown or non-object key is exit 2', async () => {
    const home = tempHome();
    writeConfig(home, { alerts: { webhook: 'http://127.0.0.1:9/hook', command: 'cat' } });
    const show = await runCli(dist.cli, ['config', 'show', '--json'], { home, env: { NOBURN_ALERTS_COMMAND: 'true' } });
    expect(show.code, show.stderr).toBe(0);
    const settings = (JSON.parse(show.stdout) as { settings: { key: string; value: unknown; source: string }[] }).settings;
    expect(settings.find((x) => x.key === 'alertsCommand')).toMatchObject({ value: 'true', source: 'env' });
    expect(settings.find((x) => x.key === 'alertsWebhook')).toMatchObject({ source: 'file' });
    writeConfig(home, { alerts: { webhok: 'http://127.0.0.1:9/hook' } });
    const bad = await runCli(dist.cli, ['budget', 'show'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('alerts: unknown key "webhok" (did you mean "webhook"?)');
    oneLine(bad.stderr);
    writeConfig(home, { alerts: 'http://x' });
    expect((await runCli(dist.cli, ['config', 'validate'], { home })).code).toBe(2);
    writeConfig(home, { alerts: { webhook: 'ftp://x' } });
    const ftp = await runCli(dist.cli, ['config', 'validate'], { home });
    expect(ftp.code).toBe(2);
    expect(ftp.stderr).toContain('alerts.webhook must be http:// or https://');
  });
});

describe('noburn config validate', () => {
  it('valid file: exit 0 (--json names the keys); missing default file: valid; missing named file, bad JSON, bad value: exit 2', async () => {
    const home = tempHome();
    const none = await runCli(dist.cli, ['config', 'validate'], { home });
    expect(none.code, none.stderr).toBe(0);
    writeConfig(home, { onError: 'block', holdTtlSeconds: 60 });
    const ok = await runCli(dist.cli, ['config', 'validate', '--json'], { home });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ valid: true, file: join(home, 'config.json'), keys: ['onError', 'holdTtlSeconds'] });

    const other = join(home, 'other.json');
    expect((await runCli(dist.cli, ['config', 'validate', other], { home })).code).toBe(2);
    writeFileSync(other, '{"onError": ');
    const bad = await runCli(dist.cli, ['config', 'validate', other], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not valid JSON');
    writeFileSync(other, JSON.stringify({ onError: 'maybe' }));
    const badValue = await runCli(dist.cli, ['config', 'validate', other], { home });
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toContain('onError must be one of allow, block');
    oneLine(badValue.stderr);
  });
});

describe('noburn config show', () => {
  it('each setting with its source (env, file, default); the API key redacted', async () => {
    const home = tempHome();
    writeConfig(home, { onError: 'block', apiKey: 'nb_key_public.s3cr3tpart', holdTtlSeconds: 30 });
    const r = await runCli(dist.cli, ['config', 'show', '--json'], { home, env: { NOBURN_TIMEOUT_MS: '750', NOBURN_URL: 'http://user:hunter2@127.0.0.1:9' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('s3cr3tpart');
    expect(r.stdout).not.toContain('hunter2');
    const shown = JSON.parse(r.stdout) as { home: string; configFile: string; settings: { key: string; value: unknown; source: string; from: string | null }[] };
    expect(shown.configFile).toBe(join(home, 'config.json'));
    const by = Object.fromEntries(shown.settings.map((s) => [s.key, s]));
    expect(by['onError']).toMatchObject({ value: 'block', source: 'file', from: join(home, 'config.json') });
    expect(by['timeoutMs']).toMatchObject({ value: 750, source: 'env', from: 'NOBURN_TIMEOUT_MS' });
    expect(by['holdTtlMs']).toMatchObject({ value: 30_000, source: 'file' });
    expect(by['apiKey']).toMatchObject({ value: 'nb_key_public.***', source: 'file' });
    expect(by['url']).toMatchObject({ source: 'env' });
    expect(by['unknownModel']).toMatchObject({ value: 'block', source: 'default', from: null });
    const text = await runCli(dist.cli, ['config', 'show'], { home });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/onError\s+"block"\s+file/);
    expect(text.stdout).not.toContain('s3cr3tpart');
  });
});
