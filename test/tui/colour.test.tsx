import { describe, expect, it } from 'vitest';
import type { DashboardProps } from '../../src/tui/components/Dashboard.js';
import { INITIAL_VIEW } from '../../src/tui/view.js';
import { NOW, fixedSnapshot } from './fixtures.js';

// Colour is pinned on for this file (chalk reads FORCE_COLOR when Ink first loads it): the
// frames below show what the thresholds look like, and that color={false} (NO_COLOR) drops it all.
process.env['FORCE_COLOR'] = '1';
const { render } = await import('ink-testing-library');
const { Dashboard } = await import('../../src/tui/components/Dashboard.js');

const RED = '31';
const RED_BRIGHT = '91';
const YELLOW = '33';
const GREEN = '32';

function lines(p: Partial<DashboardProps>): string[] {
  const { lastFrame, unmount } = render(
    <Dashboard snapshot={fixedSnapshot()} view={INITIAL_VIEW} columns={80} rows={24} now={NOW} color mode="local" banner={null} interactive {...p} />,
  );
  const text = lastFrame() ?? '';
  unmount();
  return text.split('\n');
}

// eslint-disable-next-line no-control-regex
const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').trimEnd();
/** The line of a row by its id (after the live tables' selection gutter). */
const row = (ls: string[], id: string) => ls.find((l) => strip(l).replace(/^[▸› ] /, '').startsWith(id)) ?? '';

/** The foreground colour code in force where `text` starts in a rendered line ('39' = default). */
function colourAt(line: string, text: string): string {
  const at = line.indexOf(text);
  if (at < 0) throw new Error(`${JSON.stringify(text)} not in ${JSON.stringify(line)}`);
  let fg = '39';
  // eslint-disable-next-line no-control-regex
  for (const m of line.slice(0, at).matchAll(/\u001b\[([0-9;]*)m/g)) {
    for (const c of (m[1] ?? '').split(';')) if (/^(3[0-9]|9[0-7])$/.test(c)) fg = c;
  }
  return fg;
}

describe('colour thresholds at 60 / 80 / 100 % of a cap', () => {
  it('colours each user by the share of its cap', () => {
    const ls = lines({});
    expect(colourAt(row(ls, 'bob'), '5.0%')).toBe(GREEN); // < 60 %
    expect(colourAt(row(ls, 'carol'), '62.0%+')).toBe(YELLOW); // >= 60 %
    expect(colourAt(row(ls, 'alice'), '85.0%!')).toBe(RED); // >= 80 %
    expect(colourAt(row(ls, 'dave'), '110.0%X')).toBe(RED_BRIGHT); // >= 100 %
    expect(colourAt(row(ls, 'dave'), '$5.50')).toBe(RED_BRIGHT);
    expect(colourAt(row(ls, 'erin'), '$0.000123')).toBe('39'); // no cap: no level colour
  });

  it('colours runs and the project bar the same way', () => {
    const ls = lines({});
    expect(colourAt(row(ls, 'run_agent7'), '$0.49!')).toBe(RED); // 98 %
    expect(colourAt(row(ls, 'run_nightly'), '$0.25')).toBe(GREEN); // 25 %
    expect(colourAt(row(ls, 'run_agent7'), 'exhausted')).toBe(RED_BRIGHT);
    expect(colourAt(ls[1] ?? '', '████████')).toBe(GREEN);
    expect(colourAt(ls[1] ?? '', '25.0%')).toBe(GREEN);
  });

  it('NO_COLOR: color={false} gives the same text without a single escape sequence', () => {
    const plain = lines({ color: false });
    expect(plain.join('\n')).not.toContain('\u001b');
    expect(plain).toEqual(lines({}).map(strip));
  });
});
