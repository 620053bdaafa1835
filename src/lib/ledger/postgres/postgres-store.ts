import { NoburnConfigError } from '../../errors.js';
import type { LedgerStore } from '../store.js';

/** Placeholder until the PostgreSQL store lands. */
export class PostgresStore {
  static connect(_url: string): Promise<LedgerStore> {
    return Promise.reject(new NoburnConfigError('the PostgreSQL store is not available in this build'));
  }
}
