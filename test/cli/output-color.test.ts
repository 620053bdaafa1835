import { describe, expect, it } from 'vitest';
import { wantsColor } from '../../src/cli/output.js';

// contract §5: every command honours NO_COLOR / FORCE_COLOR. NO_COLOR wins, then FORCE_COLOR, then the TTY.
describe('wantsColor', () => {
  it.each([
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: '1' }, true, false],
    [{ NO_COLOR: '1', FORCE_COLOR: '1' }, true, false],
    [{ NO_COLOR: '' }, true, true], // an empty NO_COLOR does not count (no-color.org)
    [{ FORCE_COLOR: '1' }, false, true],
    [{ FORCE_COLOR: '0' }, true, false],
    [{ FORCE_COLOR: 'false' }, true, false],
  ] as const)('%j on a TTY=%s -> %s', (env, tty, expected) => {
    expect(wantsColor(env, tty)).toBe(expected);
  });
});
