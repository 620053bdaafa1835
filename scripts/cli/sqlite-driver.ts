// The CLI build's driver loader (scripts/build.mjs swaps it in for src/lib/sqlite-driver.ts):
// better-sqlite3's JavaScript is bundled into dist/cli.js, so `check` does not resolve, read
// and compile its dozen files at start-up. Its native addon is still loaded by path.
import Database from 'better-sqlite3';

export function loadSqliteDriver(): typeof Database {
  return Database;
}
