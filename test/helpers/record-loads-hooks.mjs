// Module hooks (run in the loader thread) for record-loads.mjs.
import { appendFileSync } from 'node:fs';

let out;

export function initialize(data) {
  out = data.out;
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  appendFileSync(out, `esm ${result.url}\n`);
  return result;
}
