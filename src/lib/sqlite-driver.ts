import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

// Loaded with require(): an ESM import of this CommonJS package makes Node lex its source
// for named exports on every start-up. (The one-file CLI bundles it instead: scripts/cli/sqlite-driver.ts.)
const require = createRequire(import.meta.url);

export function loadSqliteDriver(): typeof BetterSqlite3 {
  return require('better-sqlite3') as typeof BetterSqlite3;
}
