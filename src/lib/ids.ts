import { randomFillSync, randomUUID } from 'node:crypto';

// Random bytes drawn in blocks: one system call per 4 KiB of ids instead of one per id.
const pool = Buffer.alloc(4096);
let offset = pool.length;

function randomChunk(bytes: number): Buffer {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = pool.subarray(offset, offset + bytes);
  offset += bytes;
  return out;
}

/** Short random ids with a readable prefix: run_3f9c..., res_..., key_... (72 random bits by default). */
export function newId(prefix: string, bytes = 9): string {
  return `${prefix}_${randomChunk(bytes).toString('base64url')}`;
}

export function newIdempotencyKey(): string {
  return randomUUID();
}
