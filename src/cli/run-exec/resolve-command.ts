import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/**
 * Finds the program to run the way a shell does, before the run is started, so that a
 * typo is a clear error (127 not found, 126 found but not executable) and leaves no run
 * behind in the ledger.
 */
export type ResolvedCommand = { ok: true; path: string } | { ok: false; reason: 'not_found' | 'not_executable'; detail: string };

function probe(path: string): 'exec' | 'noexec' | 'dir' | 'missing' {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 'missing';
  }
  if (st.isDirectory()) return 'dir';
  try {
    accessSync(path, constants.X_OK);
    return 'exec';
  } catch {
    return 'noexec';
  }
}

export function resolveCommand(name: string, env: Record<string, string | undefined>, cwd: string): ResolvedCommand {
  if (name === '') return { ok: false, reason: 'not_found', detail: 'empty command name' };
  // A name with a slash is a path, not looked up in PATH (as in sh).
  if (name.includes('/')) {
    const path = isAbsolute(name) ? name : resolve(cwd, name);
    const p = probe(path);
    if (p === 'exec') return { ok: true, path };
    if (p === 'missing') return { ok: false, reason: 'not_found', detail: 'no such file' };
    return { ok: false, reason: 'not_executable', detail: p === 'dir' ? 'is a directory' : 'permission denied (not executable)' };
  }
  let firstNoExec: string | null = null;
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    const path = join(dir === '' ? cwd : resolve(cwd, dir), name);
    const p = probe(path);
    if (p === 'exec') return { ok: true, path };
    if (p === 'noexec') firstNoExec ??= path;
  }
  if (firstNoExec !== null) return { ok: false, reason: 'not_executable', detail: `${firstNoExec}: permission denied (not executable)` };
  return { ok: false, reason: 'not_found', detail: 'not found in PATH' };
}
