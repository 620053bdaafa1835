import type { Ctx, Handlers, Reply } from './handlers.js';

/**
 * The route table of docs/api.md. Fixed paths are one Map lookup (the check path stays a
 * string compare); the few routes with an id match a short list of patterns.
 */
export interface Route {
  /** The metrics label: the path pattern, never the raw path (ids would explode the label set). */
  name: string;
  /** Whether the handler reads a JSON body. */
  body: boolean;
  run: (ctx: Ctx) => Promise<Reply>;
}

export type Match = { route: Route; params: string[] } | { status: 404 | 405; name: string };

type Methods = Partial<Record<string, Route>>;

export function buildRouter(h: Handlers): (method: string, path: string) => Match {
  const r = (name: string, body: boolean, run: (ctx: Ctx) => Promise<Reply>): Route => ({ name, body, run });
  const fixed = new Map<string, Methods>([
    ['/v1/check', { POST: r('/v1/check', true, h.check) }],
    ['/v1/records', { POST: r('/v1/records', true, h.records) }],
    ['/v1/releases', { POST: r('/v1/releases', true, h.release) }],
    ['/v1/leases', { POST: r('/v1/leases', true, h.grantLease) }],
    ['/v1/runs', { POST: r('/v1/runs', true, h.startRun), GET: r('/v1/runs', false, h.listRuns) }],
    ['/v1/budgets', { GET: r('/v1/budgets', false, h.getBudgets) }],
    ['/v1/budgets/project', { PUT: r('/v1/budgets/project', true, h.setProjectBudget) }],
    ['/v1/budgets/default-user', { PUT: r('/v1/budgets/default-user', true, h.setDefaultUserBudget) }],
    ['/v1/budgets/models', { PUT: r('/v1/budgets/models', true, h.setModelBudget) }],
    ['/v1/budgets/tags', { PUT: r('/v1/budgets/tags', true, h.setTagBudget) }],
    ['/v1/users', { GET: r('/v1/users', false, h.listUsers) }],
    ['/v1/spend', { GET: r('/v1/spend', false, h.spend) }],
    ['/v1/events', { GET: r('/v1/events', false, h.events) }],
    ['/v1/alerts', { GET: r('/v1/alerts', false, h.alerts) }],
    ['/v1/whoami', { GET: r('/v1/whoami', false, h.whoami) }],
    ['/v1/keys', { POST: r('/v1/keys', true, h.createKey), GET: r('/v1/keys', false, h.listKeys) }],
  ]);
  const patterns: { re: RegExp; name: string; methods: Methods }[] = [
    { re: /^\/v1\/runs\/([^/]+)$/, name: '/v1/runs/:id', methods: { GET: r('/v1/runs/:id', false, h.getRun) } },
    { re: /^\/v1\/runs\/([^/]+)\/end$/, name: '/v1/runs/:id/end', methods: { POST: r('/v1/runs/:id/end', false, h.endRun) } },
    { re: /^\/v1\/leases\/([^/]+)\/raise$/, name: '/v1/leases/:id/raise', methods: { POST: r('/v1/leases/:id/raise', true, h.raiseLease) } },
    { re: /^\/v1\/leases\/([^/]+)\/end$/, name: '/v1/leases/:id/end', methods: { POST: r('/v1/leases/:id/end', true, h.endLease) } },
    { re: /^\/v1\/budgets\/users\/([^/]+)$/, name: '/v1/budgets/users/:id', methods: { PUT: r('/v1/budgets/users/:id', true, h.setUserBudget) } },
    { re: /^\/v1\/keys\/([^/]+)$/, name: '/v1/keys/:id', methods: { DELETE: r('/v1/keys/:id', false, h.revokeKey) } },
    // Model names may hold a slash (provider/model): the rest of the path, percent-decoded.
    { re: /^\/v1\/prices\/(.+)$/, name: '/v1/prices/:model', methods: { GET: r('/v1/prices/:model', false, h.price) } },
  ];

  return (method, path) => {
    const m = fixed.get(path);
    if (m) {
      const route = m[method];
      return route ? { route, params: [] } : { status: 405, name: path };
    }
    for (const p of patterns) {
      const x = p.re.exec(path);
      if (!x) continue;
      const route = p.methods[method];
      if (!route) return { status: 405, name: p.name };
      return { route, params: x.slice(1).map((s) => decodeURIComponent(s)) };
    }
    return { status: 404, name: 'unknown' };
  };
}
