// Preload (node --import) that appends every module the process resolves to the file named
// by NOBURN_TEST_LOADS: ESM through a resolve hook (record-loads-hooks.mjs), CommonJS
// through Module._resolveFilename, since require() bypasses the ESM hooks on Node 20.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

const out = process.env.NOBURN_TEST_LOADS;
if (out) {
  register('./record-loads-hooks.mjs', import.meta.url, { data: { out } });
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    const resolved = resolveFilename.call(this, request, ...rest);
    appendFileSync(out, `cjs ${resolved}\n`);
    return resolved;
  };
}
