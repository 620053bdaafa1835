/**
 * Tool round trips through the proxy with real clients, unmodified apart from their base
 * URL: `openai` (chat `tool_calls`, plain and streamed), `@anthropic-ai/sdk` (`tool_use`),
 * `@ai-sdk/openai` (Responses `function_call`, with generateText and streamText, and a
 * plain streamText) and `@langchain/openai` (bindTools). The rule: every call of a round
 * trip (the one that offers the tools and gets a call back, and the follow-up that carries
 * the tool's result) is metered, and the run's spend is exactly the upstream's reported
 * usage at the configured prices.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TOOL_ARGUMENTS } from '../fixtures/fake-tools.js';
import { costNano, toNano } from './helpers.js';
import { useProxySuite } from './harness.js';

const suite = useProxySuite();

const servedNano = (): number => suite.upstream.served.reduce((sum, c) => sum + (c.usage && c.model ? costNano(c.model, c.usage) : 0), 0);

/** What the upstream answered, in order: the tool it called, or null for a text answer. */
const toolCalls = (): Array<string | null> => suite.upstream.served.map((c) => c.toolCall);

const weatherParameters = { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] };

async function expectMeteredExactly(calls: number): Promise<void> {
  const run = await suite.settled();
  expect(run.calls).toBe(calls);
  expect(run.blockedCalls).toBe(0);
  expect(run.heldUsd).toBe(0);
  expect(servedNano()).toBeGreaterThan(0);
  expect(toNano(run.spendUsd)).toBe(servedNano());
}

describe('openai', () => {
  it('a tool-call round trip (tools in the request, tool_calls in the answer, then the tool result), plain and streamed, is metered exactly', async () => {
    await suite.open({ capUsd: 1 });
    const client = new OpenAI({ baseURL: suite.proxy.env['OPENAI_BASE_URL'], apiKey: 'sk-test', maxRetries: 0 });
    const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherParameters } }];
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];

    const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, max_tokens: 40 });
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    const answered: OpenAI.Chat.ChatCompletionMessageParam[] = [...messages, first.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: '18 C' }];
    const second = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: answered, tools, max_tokens: 40 });
    expect(second.choices[0]?.message.content).toBe('Hello from the fake upstream.');

    // Streamed: the SDK puts the call back together from its argument pieces.
    let args = '';
    for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, max_tokens: 40, stream: true })) {
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    }
    expect(args).toBe(TOOL_ARGUMENTS);

    expect(toolCalls()).toEqual(['get_weather', null, 'get_weather']);
    await expectMeteredExactly(3);
  });
});

describe('@anthropic-ai/sdk', () => {
  it('a tool_use round trip (tool_use in the answer, tool_result in the follow-up) is metered exactly', async () => {
    await suite.open({ capUsd: 1 });
    const client = new Anthropic({ baseURL: suite.proxy.env['ANTHROPIC_BASE_URL'], apiKey: 'sk-ant-test', maxRetries: 0 });
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Weather for a city', input_schema: weatherParameters }];
    const ask: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris?' };

    const first = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [ask], tools });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
    const second = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      tools,
      messages: [ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use!.id, content: '18 C' }] }],
    });
    expect(second.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake upstream.' });

    expect(toolCalls()).toEqual(['get_weather', null]);
    await expectMeteredExactly(2);
  });
});

describe('@ai-sdk/openai', () => {
  const weather = tool({ description: 'Weather for a city', inputSchema: z.object({ city: z.string() }), execute: ({ city }) => Promise.resolve(`18 C in ${city}`) });

  it('streamText (a Responses stream) is metered exactly', async () => {
    await suite.open({ capUsd: 1 });
    const openai = createOpenAI({ baseURL: suite.proxy.env['OPENAI_BASE_URL'], apiKey: 'sk-test' });
    const s = streamText({ model: openai('gpt-4o-mini'), prompt: 'stream hello', maxOutputTokens: 50, maxRetries: 0 });
    expect(await s.text).toBe('Hello from the fake upstream.');
    expect(suite.upstream.served.map((c) => [c.path, c.stream])).toEqual([['/v1/responses', true]]);
    await expectMeteredExactly(1);
  });

  it('a tool call with generateText and with streamText (the tool runs, its result goes back in a second call) is metered exactly', async () => {
    await suite.open({ capUsd: 1 });
    const openai = createOpenAI({ baseURL: suite.proxy.env['OPENAI_BASE_URL'], apiKey: 'sk-test' });
    const model = openai('gpt-4o-mini');
    const g = await generateText({ model, prompt: 'Weather in Paris?', tools: { weather }, stopWhen: stepCountIs(2), maxOutputTokens: 50, maxRetries: 0 });
    expect(g.steps[0]?.toolResults[0]).toMatchObject({ toolName: 'weather', output: '18 C in Paris' });
    expect(g.text).toBe('Hello from the fake upstream.');
    const s = streamText({ model, prompt: 'Weather in Paris?', tools: { weather }, stopWhen: stepCountIs(2), maxOutputTokens: 50, maxRetries: 0 });
    expect(await s.text).toBe('Hello from the fake upstream.');
    expect((await s.steps)[0]?.toolCalls[0]).toMatchObject({ toolName: 'weather', input: { city: 'Paris' } });

    expect(suite.upstream.served.map((c) => [c.path, c.stream, c.toolCall])).toEqual([
      ['/v1/responses', false, 'weather'],
      ['/v1/responses', false, null],
      ['/v1/responses', true, 'weather'],
      ['/v1/responses', true, null],
    ]);
    await expectMeteredExactly(4);
  });
});

describe('@langchain/openai', () => {
  it('tools bound with bindTools: the tool call and the follow-up with its result are metered exactly', async () => {
    await suite.open({ capUsd: 1 });
    const chat = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', maxTokens: 50, maxRetries: 0, configuration: { baseURL: suite.proxy.env['OPENAI_BASE_URL'] } });
    const withTools = chat.bindTools([{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherParameters } }]);
    const ask = new HumanMessage('Weather in Paris?');
    const first = await withTools.invoke([ask]);
    expect(first.tool_calls?.[0]).toMatchObject({ name: 'get_weather', args: { city: 'Paris' } });
    const second = await withTools.invoke([ask, new AIMessage(first), new ToolMessage({ tool_call_id: first.tool_calls![0]!.id!, content: '18 C' })]);
    expect(second.content).toBe('Hello from the fake upstream.');

    expect(suite.upstream.served.map((c) => [c.path, c.toolCall])).toEqual([
      ['/v1/chat/completions', 'get_weather'],
      ['/v1/chat/completions', null],
    ]);
    await expectMeteredExactly(2);
  });
});
