import { randomBytes, randomUUID } from 'node:crypto';

/** Short random ids with a readable prefix: run_3f9c..., res_..., key_... */
export function newId(prefix: string, bytes = 9): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

export function newIdempotencyKey(): string {
  return randomUUID();
}
