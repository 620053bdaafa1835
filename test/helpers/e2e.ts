/** Config price override used by the e2e suites: exact, known estimates. */
import { beforeEach, expect } from 'vitest';
import { runCli, tempHome, useDist, writeConfig } from './cli.js';
import type { Dist, RunOptions, RunResult } from './cli.js';

export const M1 = { inputPerMTok: 1, outputPerMTok: 2 };

/** Nano-dollars of a call at M1's price (USD per MTok = 1000 nano per token). */
export function m1Nano(tokensIn: number, tokensOut: number): number {
  return tokensIn * M1.inputPerMTok * 1000 + tokensOut * M1.outputPerMTok * 1000;
}

/** A USD number from the CLI's JSON, as integer nano-dollars (exact for what noburn prints). */
export function nano(usd: unknown): number {
  expect(typeof usd).toBe('number');
  return Math.round((usd as number) * 1e9);
}

export interface Cli {
  (args: string[], opts?: Partial<RunOptions>): Promise<RunResult>;
  /** Runs with --json, expects exit `code` (0), and parses stdout, which must be one JSON document. */
  json<T = Record<string, unknown>>(args: string[], opts?: Partial<RunOptions> & { code?: number }): Promise<T>;
}

/** The built CLI bound to one NOBURN_HOME. */
export function bindCli(cliPath: string, home: string): Cli {
  const run = (args: string[], opts: Partial<RunOptions> = {}) => runCli(cliPath, args, { home, ...opts });
  const json = async <T>(args: string[], opts: Partial<RunOptions> & { code?: number } = {}): Promise<T> => {
    const r = await run([...args, '--json'], opts);
    expect(r.code, r.stderr).toBe(opts.code ?? 0);
    // stdout carries only the JSON document: it parses as a whole.
    return JSON.parse(r.stdout) as T;
  };
  return Object.assign(run, { json });
}

export interface M1Suite {
  readonly dist: Dist;
  /** This test's NOBURN_HOME, priced with M1. */
  readonly home: string;
  /** The built CLI bound to `home`. */
  readonly cli: Cli;
}

/** For a test file: the built CLI (useDist) and, per test, a fresh home priced with M1 with the CLI bound to it. */
export function useM1Suite(prefix: string): M1Suite {
  const dist = useDist();
  let current: { home: string; cli: Cli } | undefined;
  beforeEach(() => {
    const home = tempHome(prefix);
    writeConfig(home, { prices: { m1: M1 } });
    current = { home, cli: bindCli(dist.cli, home) };
  });
  const now = () => {
    if (current === undefined) throw new Error('useM1Suite(): the home is made in beforeEach');
    return current;
  };
  return {
    dist,
    get home() {
      return now().home;
    },
    get cli() {
      return now().cli;
    },
  };
}

export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
