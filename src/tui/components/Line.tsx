import { Text } from 'ink';

/** A piece of a line with its style; styles are dropped when colour is off (NO_COLOR). */
export interface Segment {
  readonly text: string;
  readonly color?: string | undefined;
  readonly bold?: boolean;
  readonly dim?: boolean;
  readonly inverse?: boolean;
}

/** One terminal line made of segments; never wraps (the text is already fitted). */
export function Line({ segments, color }: { readonly segments: readonly Segment[]; readonly color: boolean }) {
  if (!color) return <Text wrap="truncate-end">{segments.map((s) => s.text).join('')}</Text>;
  return (
    <Text wrap="truncate-end">
      {segments.map((s, i) => (
        <Text key={i} color={s.color} bold={s.bold} dimColor={s.dim} inverse={s.inverse}>
          {s.text}
        </Text>
      ))}
    </Text>
  );
}

/** A section title: "▶ Users 12 · sort spend ↓ ───────". */
export function Title({ text, focused, width, color }: { readonly text: string; readonly focused: boolean; readonly width: number; readonly color: boolean }) {
  const head = `${focused ? '▶' : ' '} ${text} `;
  const rule = '─'.repeat(Math.max(0, width - Array.from(head).length));
  return <Line color={color} segments={[{ text: head, bold: focused, color: focused ? 'cyan' : undefined }, { text: rule, dim: true }]} />;
}
