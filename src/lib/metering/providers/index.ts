import type { ProviderAdapter } from '../types.js';
import { anthropic } from './anthropic.js';
import { google } from './google.js';
import { openai } from './openai.js';

/**
 * Every provider noburn meters: one adapter file each, one line here. The proxy routes
 * by these prefixes (first match wins), `noburn run` gives the child these base-URL
 * variables, and the library estimates and reads usage through the same adapters.
 */
export const PROVIDERS: readonly ProviderAdapter[] = [
  openai,
  anthropic,
  google,
];

/** The adapter for a provider id, or undefined. */
export function providerById(id: string): ProviderAdapter | undefined {
  return PROVIDERS.find((p) => p.id === id);
}

/** The adapter whose error shape answers requests that match no provider (a wrong path). */
export const FALLBACK_PROVIDER: ProviderAdapter = openai;
