/**
 * Pulls the shell example out of the README's "Quick start" section: every ```sh/```bash/
 * ```shell block between that heading and the next heading of the same or a higher level.
 */
export function quickStartBlocks(readme: string): string[] {
  const heading = /^(#{1,6})\s*quick[ -]?start\b.*$/im.exec(readme);
  if (!heading) return [];
  const level = heading[1]?.length ?? 1;
  const rest = readme.slice(heading.index + heading[0].length);
  const next = new RegExp(`^#{1,${level}}\\s`, 'm').exec(rest);
  const section = next ? rest.slice(0, next.index) : rest;
  const blocks: string[] = [];
  for (const m of section.matchAll(/^```(?:sh|bash|shell|console)\s*\n([\s\S]*?)^```/gm)) blocks.push(m[1] ?? '');
  return blocks;
}

/**
 * The quick-start shell example: the first of those blocks that runs noburn (later blocks
 * show commands that need a program or a terminal, e.g. `noburn run -- python agent.py`),
 * without clone/install/test steps (the fresh-clone test has done them; `npm test` there
 * would recurse) and without a leading `$ ` prompt. Empty when there is none.
 */
export function quickStartExample(readme: string): string {
  const skip = /^\s*(git clone\b|cd\s|npm (install|i|ci|test|run test)\b)/;
  const block = quickStartBlocks(readme).find((b) => /\bnoburn\b/.test(b)) ?? '';
  return block
    .split('\n')
    .map((l) => l.replace(/^\$ /, ''))
    .filter((l) => !skip.test(l))
    .join('\n')
    .trim();
}

/** The ```ts blocks of a README, in order. */
export function tsBlocks(readme: string): string[] {
  return [...readme.matchAll(/^```(?:ts|typescript)\s*\n([\s\S]*?)^```/gm)].map((m) => m[1] ?? '');
}
