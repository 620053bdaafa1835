import type { NoburnConfig } from '../lib/config.js';
import { NoburnConfigError } from '../lib/errors.js';
import type { SyncFn } from './hooks/use-remote-sync.js';

interface MirrorSyncModule {
  openMirrorSync?: (config: NoburnConfig) => { sync(): Promise<number>; close(): Promise<void> };
}

export type MirrorSyncLoader = () => Promise<unknown>;

/** The pull of `watch --remote`, and what to close when the dashboard ends. */
export interface MirrorSync {
  sync: SyncFn;
  close(): Promise<void>;
}

/** src/lib/remote/mirror-sync.ts, imported only by `watch --remote`. */
const loadDefault: MirrorSyncLoader = () => import('../lib/remote/mirror-sync.js');

/**
 * Loads the mirror sync. A build without it, or a module that fails to load, becomes a
 * pull that fails with a clear message (shown on screen), never a crash.
 */
export async function loadMirrorSync(config: NoburnConfig, load: MirrorSyncLoader = loadDefault): Promise<MirrorSync> {
  let failure: Error;
  try {
    const mod = (await load()) as MirrorSyncModule;
    const { openMirrorSync } = mod;
    if (typeof openMirrorSync === 'function') {
      // Opened on the first pull (a config it refuses is that pull's failure), closed with the dashboard.
      let opened: ReturnType<typeof openMirrorSync> | null = null;
      return {
        sync: async () => (opened ??= openMirrorSync(config)).sync(),
        close: async () => {
          await opened?.close();
          opened = null;
        },
      };
    }
    failure = new NoburnConfigError('remote sync (watch --remote) is not available in this build');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    failure =
      code === 'ERR_MODULE_NOT_FOUND'
        ? new NoburnConfigError('remote sync (watch --remote) is not available in this build')
        : new NoburnConfigError(`remote sync could not be loaded: ${(e as Error).message}`);
  }
  return { sync: () => Promise.reject(failure), close: () => Promise.resolve() };
}
