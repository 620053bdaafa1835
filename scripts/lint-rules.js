/**
 * The project's own lint rules (plugin `noburn`), used by eslint.config.js.
 *
 * `layers`: which part of src/ may import which. The import is resolved against the file's
 * folder, so the rule holds at any depth (`src/lib/a/b/x.ts` importing `../../../cli/y.js`)
 * and for dynamic imports (`await import(...)`), re-exports and `import('...').Type`, which a
 * pattern list of `../cli/*` strings misses.
 *
 * `module-comment-first`: a module's own comment sits above its imports, where tools attach
 * it to the module; a comment left standing alone below the imports is the old place.
 */
import { dirname, relative, resolve, sep } from 'node:path';

const root = dirname(dirname(new URL(import.meta.url).pathname));

/** The layer of an absolute path: `lib`, `cli`... for a path under src/<layer>/, else null. */
function layerOf(path) {
  const parts = relative(root, path).split(sep);
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : null;
}

/** The module specifier of an import-like node, when it is a plain string. */
function specifierOf(source) {
  if (!source) return null;
  if (source.type === 'Literal' && typeof source.value === 'string') return source.value;
  if (source.type === 'TemplateLiteral' && source.expressions.length === 0) return source.quasis[0].value.cooked;
  return null;
}

const layers = {
  meta: {
    type: 'problem',
    docs: { description: 'A layer of src/ imports only the layers (and packages) it may.' },
    schema: [{ type: 'object', additionalProperties: { type: 'object' } }],
    messages: {
      layer: 'src/{{from}} must not import src/{{to}} ({{spec}}).',
      pkg: 'src/{{from}} must not import the package {{spec}}.',
    },
  },
  create(context) {
    const from = layerOf(context.filename);
    const rule = from ? context.options[0]?.[from] : undefined;
    if (!rule) return {};
    const check = (node, source) => {
      const spec = specifierOf(source);
      if (spec === null) return;
      if (spec.startsWith('.')) {
        const to = layerOf(resolve(dirname(context.filename), spec));
        if (to && to !== from && (rule.layers ?? []).includes(to)) context.report({ node, messageId: 'layer', data: { from, to, spec } });
        return;
      }
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if ((rule.packages ?? []).includes(pkg)) context.report({ node, messageId: 'pkg', data: { from, spec } });
    };
    return {
      ImportDeclaration: (n) => check(n, n.source),
      ExportNamedDeclaration: (n) => check(n, n.source),
      ExportAllDeclaration: (n) => check(n, n.source),
      ImportExpression: (n) => check(n, n.source),
      TSImportType: (n) => check(n, n.argument?.type === 'TSLiteralType' ? n.argument.literal : n.argument),
      TSExternalModuleReference: (n) => check(n, n.expression),
    };
  },
};

const moduleCommentFirst = {
  meta: {
    type: 'suggestion',
    docs: { description: "A module's comment sits above its imports." },
    schema: [],
    messages: { below: "The module's comment belongs above the imports." },
  },
  create(context) {
    return {
      Program(program) {
        const body = program.body;
        let last = -1;
        while (body[last + 1]?.type === 'ImportDeclaration') last++;
        if (last < 0) return;
        const next = body[last + 1];
        const code = context.sourceCode;
        // The comments between the last import and the first statement after the imports.
        const between = code.getCommentsAfter(body[last]).filter((c) => !next || c.range[1] <= next.range[0]);
        for (const c of between) {
          const after = code.getTokenAfter(c, { includeComments: true });
          // Standing alone: a blank line (or the end of the file) below it, and a line of its
          // own above, so it belongs to no statement: a module comment in the wrong place.
          const detached = !after || after.loc.start.line > c.loc.end.line + 1;
          if (detached && c.loc.start.line > body[last].loc.end.line) context.report({ loc: c.loc, messageId: 'below' });
        }
      },
    };
  },
};

export default { meta: { name: 'noburn-lint' }, rules: { layers, 'module-comment-first': moduleCommentFirst } };
