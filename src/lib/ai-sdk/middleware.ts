import type { LanguageModelMiddleware } from 'ai';
import type { NoburnGuard } from '../guard.js';
import { modelOutputLimit } from '../metering/estimate.js';
import { releaseHold } from '../release-hold.js';
import { estimateTokens } from '../tokens.js';
import type { Decision } from '../types.js';
import { estimatePromptTokens } from './prompt.js';
import { usageToRecord } from './usage.js';

export interface NoburnMiddlewareOptions {
  /** The end user the calls are charged to (their cap applies). */
  endUserId?: string | undefined;
  /** The run the calls belong to; defaults to the guard's (NOBURN_RUN_ID). null: no run. */
  runId?: string | null | undefined;
}

type TransformOptions = Parameters<NonNullable<LanguageModelMiddleware['transformParams']>>[0];
type CallParams = TransformOptions['params'];
type Model = TransformOptions['model'];
type GenerateResult = Awaited<ReturnType<NonNullable<LanguageModelMiddleware['wrapGenerate']>>>;
type StreamResult = Awaited<ReturnType<NonNullable<LanguageModelMiddleware['wrapStream']>>>;

/** One checked call: its hold and what it estimated. */
interface Held {
  decision: Decision;
  model: string;
  provider: string | undefined;
  estimate: { tokensIn: number; tokensOut: number };
  v5Anthropic: boolean;
}


/**
 * Vercel AI SDK middleware: `wrapLanguageModel({ model, middleware: noburnMiddleware(guard, { endUserId }) })`.
 * Before each call it estimates the prompt, checks it against every cap (throwing
 * NoburnBlockedError when refused) and sets the call's maxOutputTokens to the output it
 * held; after it records the usage the provider reported (doGenerate's result, the
 * stream's `finish` part), or what arrived of a stream that was cut or aborted. A call
 * that fails before the provider answered frees its hold. Works with ai v5, v6 and v7.
 */
export function noburnMiddleware(guard: NoburnGuard, opts: NoburnMiddlewareOptions = {}): LanguageModelMiddleware {
  // The hold of each call, keyed by the params object transformParams returns: the SDK
  // hands that same object to wrapGenerate / wrapStream of this middleware.
  const held = new WeakMap<object, Held>();

  const release = (h: Held) => releaseHold(guard, h.decision.reservationId);

  const record = (h: Held, usage: { tokensIn: number; tokensOut: number; cachedTokensIn: number; cacheWriteTokensIn: number }) => {
    guard.record({
      model: h.model,
      ...usage,
      endUserId: opts.endUserId,
      runId: opts.runId,
      reservationId: h.decision.reservationId,
      provider: h.provider,
    });
  };

  return {
    specificationVersion: 'v3',
    transformParams: async ({ params, model }) => {
      const tokensIn = await estimatePromptTokens(params);
      // No bound set: the model's output limit, as the proxy holds (and the call then gets it as its bound).
      const tokensOut = positive(params.maxOutputTokens) ?? modelOutputLimit(model.modelId);
      // clamp: when the bound does not fit, hold the largest output that does (down to
      // minTokensOut) and give the call that bound, instead of refusing.
      const decision = guard.assert(
        await guard.check({
          model: model.modelId,
          estimatedTokensIn: tokensIn,
          estimatedTokensOut: tokensOut,
          endUserId: opts.endUserId,
          runId: opts.runId,
          provider: providerOf(model),
          clamp: true,
          tokensInSource: 'tokenizer',
        }),
      );
      const next: CallParams = { ...params, maxOutputTokens: decision.tokensOut };
      held.set(next, { decision, model: model.modelId, provider: providerOf(model), estimate: { tokensIn, tokensOut: decision.tokensOut }, v5Anthropic: isV5Anthropic(model) });
      return next;
    },

    wrapGenerate: async ({ doGenerate, params }) => {
      const h = held.get(params);
      if (!h) return doGenerate();
      let result: GenerateResult;
      try {
        result = await doGenerate();
      } catch (e) {
        release(h);
        throw e;
      }
      record(h, usageToRecord(result.usage, h.estimate, anthropicMeta(h, result.providerMetadata)));
      return result;
    },

    wrapStream: async ({ doStream, params }) => {
      const h = held.get(params);
      if (!h) return doStream();
      let result: StreamResult;
      try {
        result = await doStream();
      } catch (e) {
        release(h);
        throw e;
      }
      return { ...result, stream: meteredStream(result.stream, h, record) };
    },
  };
}

/**
 * Passes the stream on unchanged and records once when it ends: the `finish` part's
 * usage, or, for a stream cut or cancelled before it, the input estimate plus the
 * output that arrived (counted with the tokenizer).
 */
function meteredStream<T>(source: ReadableStream<T>, h: Held, record: (h: Held, u: ReturnType<typeof usageToRecord>) => void): ReadableStream<T> {
  const reader = source.getReader();
  let finish: { usage: unknown; providerMetadata: unknown } | null = null;
  const arrived: string[] = [];
  let settled = false;
  const settle = async () => {
    if (settled) return;
    settled = true;
    if (finish) return record(h, usageToRecord(finish.usage, h.estimate, anthropicMeta(h, finish.providerMetadata)));
    const text = arrived.join('');
    const out = text === '' ? 0 : await estimateTokens(text);
    record(h, { tokensIn: h.estimate.tokensIn, tokensOut: Math.min(out, h.estimate.tokensOut), cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  };
  const observe = (part: unknown) => {
    if (typeof part !== 'object' || part === null) return;
    const p = part as Record<string, unknown>;
    if (p['type'] === 'finish') finish = { usage: p['usage'], providerMetadata: p['providerMetadata'] };
    // v5/v6 deltas are `delta`; the text a tool call streams counts as output too.
    else if (typeof p['delta'] === 'string') arrived.push(p['delta']);
    else if (typeof p['textDelta'] === 'string') arrived.push(p['textDelta']);
  };
  return new ReadableStream<T>({
    async pull(ctl) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        await settle();
        ctl.error(e);
        return;
      }
      if (r.done) {
        await settle();
        ctl.close();
        return;
      }
      observe(r.value);
      ctl.enqueue(r.value);
    },
    async cancel(reason) {
      await settle();
      await reader.cancel(reason);
    },
  });
}

/**
 * The provider a model is priced by: the AI SDK's provider id up to its first dot
 * ('openai.chat', 'anthropic.messages', 'google.generative-ai'). Undefined for
 * OpenAI-compatible gateways whose id names no provider of the price data (priced by model).
 */
function providerOf(model: Model): string | undefined {
  const id = String((model as { provider?: unknown }).provider ?? '').split('.')[0] ?? '';
  return KNOWN_PROVIDERS.has(id) ? id : undefined;
}
const KNOWN_PROVIDERS = new Set(['openai', 'anthropic', 'google', 'azure', 'mistral', 'groq', 'deepseek', 'xai', 'cohere', 'bedrock', 'vertex']);

function positive(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.ceil(v) : undefined;
}

/** ai v5 models are LanguageModelV2; @ai-sdk/anthropic v2 reports input without cache tokens. */
function isV5Anthropic(model: Model): boolean {
  const m = model as { specificationVersion?: unknown; provider?: unknown };
  return m.specificationVersion === 'v2' && typeof m.provider === 'string' && m.provider.startsWith('anthropic');
}

function anthropicMeta(h: Held, providerMetadata: unknown): { cacheCreationInputTokens?: unknown } | undefined {
  if (!h.v5Anthropic) return undefined;
  const a = (providerMetadata as { anthropic?: { cacheCreationInputTokens?: unknown } } | undefined)?.anthropic;
  return a ?? {};
}

