import { createRequire } from 'node:module';
import type * as ChildProcess from 'node:child_process';
import { nanoToUsd } from '../money.js';
import { redactSecrets } from '../redact.js';
import type { AlertOutcome, AlertRecord, LedgerStore } from '../ledger/store.js';

/**
 * Alert delivery: a background loop over the `alerts` table, the durable queue. Each round
 * claims the due alerts (a lease: no other process delivers them meanwhile), POSTs each to
 * the webhook and/or pipes it to the command, then marks it delivered or due again with
 * exponential backoff. It runs beside checks and records, never in their path: a record
 * only inserts the alert row in its own transaction.
 *
 * Exactly once per alert in the ledger; delivery is at least once: a process that dies after
 * the receiver took an alert but before marking it leaves it to be delivered again when its
 * lease ends. Every payload carries the alert's stable `id` (and the Idempotency-Key header)
 * for receivers to dedupe by.
 */
export interface AlertTargets {
  webhook: string | null;
  command: string | null;
}

export interface DelivererOptions {
  store: Pick<LedgerStore, 'claimAlerts' | 'settleAlerts'>;
  /** The project whose alerts this process delivers; null: every project (serve). */
  projectId: string | null;
  targets: AlertTargets;
  now?: () => number;
  /** How often the queue is looked at (ms). */
  intervalMs?: number;
  /** How long a claim keeps other processes off an alert (ms); longer than a delivery can take. */
  leaseMs?: number;
  /** One delivery's time limit (ms), for the webhook and the command alike. */
  timeoutMs?: number;
  /** A delivery failed (it will be retried); a store error (the round is retried). */
  onError?: (err: unknown, alert: AlertRecord | null) => void;
}

/** The JSON document a webhook receives and a command reads on stdin. */
export interface AlertPayload {
  id: string;
  projectId: string;
  scope: AlertRecord['scope'];
  subject: string | null;
  userId: string | null;
  threshold: number;
  spentUsd: number;
  capUsd: number;
  period: string;
  window: string;
  firedAt: string;
  /** One line for humans (Slack's incoming webhooks show it as the message). */
  text: string;
}

const money = (usd: number): string => `$${usd.toFixed(2)}`;

function whose(a: AlertRecord): string {
  switch (a.scope) {
    case 'project':
      return `project ${a.projectId}`;
    case 'user':
      return `user ${a.subject ?? ''} (project ${a.projectId})`;
    case 'model':
      return `model ${a.subject ?? ''}${a.userId !== null ? ` for user ${a.userId}` : ''} (project ${a.projectId})`;
    case 'run':
      return `run ${a.subject ?? ''} (project ${a.projectId})`;
    case 'tag':
      return `tag ${a.subject ?? ''} (project ${a.projectId})`;
  }
}

export function alertPayload(a: AlertRecord): AlertPayload {
  const spentUsd = nanoToUsd(a.spentNano);
  const capUsd = nanoToUsd(a.capNano);
  const per = a.period === 'total' ? '' : ` per ${a.period}`;
  return {
    id: a.id, projectId: a.projectId, scope: a.scope, subject: a.subject, userId: a.userId, threshold: a.threshold,
    spentUsd, capUsd, period: a.period, window: a.window, firedAt: new Date(a.firedAt).toISOString(),
    text: `noburn: ${whose(a)} reached ${a.threshold}% of its ${money(capUsd)}${per} cap: ${money(spentUsd)} spent (window ${a.window})`,
  };
}

/** Retry delay after `attempts` failed attempts: 1 s, 2 s, 4 s... at most a minute. */
export function backoffMs(attempts: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

async function postWebhook(url: string, p: AlertPayload, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': p.id, 'user-agent': 'noburn-alerts' },
    body: JSON.stringify(p),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
}

let spawn: typeof ChildProcess.spawn | undefined;

function runCommand(command: string, p: AlertPayload, timeoutMs: number): Promise<void> {
  // Loaded on first use: node:child_process costs ~6 ms, and the CLI bundles this module.
  spawn ??= (createRequire(import.meta.url)('node:child_process') as typeof ChildProcess).spawn;
  const run = spawn;
  return new Promise((resolve, reject) => {
    const child = run('/bin/sh', ['-c', command], {
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, NOBURN_ALERT_ID: p.id, NOBURN_ALERT_THRESHOLD: String(p.threshold), NOBURN_ALERT_TEXT: p.text },
      timeout: timeoutMs,
    });
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`alert command exited ${code ?? signal ?? '?'}`))));
    child.stdin.on('error', () => undefined); // a command that does not read its stdin
    child.stdin.end(`${JSON.stringify(p)}\n`);
  });
}

export class AlertDeliverer {
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<number> | null = null;
  private stopped = false;

  constructor(private readonly o: DelivererOptions) {
    this.now = o.now ?? Date.now;
    this.intervalMs = o.intervalMs ?? 1000;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.leaseMs = o.leaseMs ?? Math.max(60_000, this.timeoutMs * 3);
  }

  /** True when there is somewhere to deliver to. */
  static wanted(t: AlertTargets): boolean {
    return t.webhook !== null || t.command !== null;
  }

  start(): this {
    this.schedule(0);
    return this;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.deliverDue().finally(() => this.schedule(this.intervalMs));
    }, ms);
    // Delivery never keeps a process alive by itself.
    this.timer.unref();
  }

  /** One round: delivers what is due now; resolves to how many were delivered. Rounds never overlap. */
  deliverDue(): Promise<number> {
    this.round ??= this.doRound().finally(() => {
      this.round = null;
    });
    return this.round;
  }

  private async doRound(): Promise<number> {
    let claimed: AlertRecord[];
    try {
      claimed = await this.o.store.claimAlerts(this.o.projectId, this.now(), this.leaseMs, 50);
    } catch (e) {
      this.o.onError?.(e, null);
      return 0;
    }
    if (claimed.length === 0) return 0;
    const outcomes = await Promise.all(claimed.map((a) => this.deliver(a)));
    try {
      await this.o.store.settleAlerts(outcomes, this.now());
    } catch (e) {
      // Unmarked: the lease ends and they are delivered again (at least once).
      this.o.onError?.(e, null);
      return 0;
    }
    return outcomes.filter((x) => x.delivered).length;
  }

  private async deliver(a: AlertRecord): Promise<AlertOutcome> {
    const p = alertPayload(a);
    try {
      if (this.o.targets.webhook !== null) await postWebhook(this.o.targets.webhook, p, this.timeoutMs);
      if (this.o.targets.command !== null) await runCommand(this.o.targets.command, p, this.timeoutMs);
      return { id: a.id, delivered: true };
    } catch (e) {
      this.o.onError?.(e, a);
      const error = redactSecrets(e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e));
      return { id: a.id, delivered: false, error, retryAt: this.now() + backoffMs(a.attempts) };
    }
  }

  /** Stops the loop; resolves once the round under way (if any) has settled what it claimed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.round;
  }
}
