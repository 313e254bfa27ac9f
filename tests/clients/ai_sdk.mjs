// The Vercel AI SDK (npm `ai`, `@ai-sdk/openai`, `@ai-sdk/openai-compatible`) against the
// gateway, as the README's "Vercel AI SDK" section sets it up. Run from a directory whose
// node_modules holds those packages (tests/sdk_clients.py copies it there):
//
//   node ai_sdk.mjs SCENARIO BASE_URL MODEL
//
// BASE_URL ends in /v1. Prints one JSON object: what the SDK returned, plus every request
// body it sent (`sent`), so tests can check the wire shapes (e.g. `item_reference`).
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";

const [scenario, baseURL, modelId] = process.argv.slice(2);
const sent = [];
// Record what the SDK sends; everything else is the SDK's own fetch.
const recordingFetch = async (url, init) => {
  let body = null;
  try {
    body = init && typeof init.body === "string" ? JSON.parse(init.body) : null;
  } catch {
    body = init.body;
  }
  sent.push({ url: String(url), body });
  return fetch(url, init);
};
const apiKey = "not-needed";
const openai = createOpenAI({ baseURL, apiKey, fetch: recordingFetch });
const compatible = createOpenAICompatible({
  name: "gateway",
  baseURL,
  apiKey,
  fetch: recordingFetch,
  includeUsage: true,
});

const writeFile = tool({
  description: "Write a file",
  inputSchema: jsonSchema({
    type: "object",
    properties: { filePath: { type: "string" }, content: { type: "string" } },
    required: ["filePath", "content"],
  }),
  execute: async ({ filePath, content }) => `wrote ${content.length} bytes to ${filePath}`,
});

function summary(result) {
  return {
    text: result.text,
    finishReason: result.finishReason,
    usage: result.usage,
    responseId: result.response?.id,
    modelId: result.response?.modelId,
  };
}

async function twoTurns(model) {
  const messages = [{ role: "user", content: "echo: first answer" }];
  const first = await generateText({ model, messages });
  messages.push(...first.response.messages);
  messages.push({ role: "user", content: "echo: second answer" });
  const second = await generateText({ model, messages });
  return { turns: [summary(first), summary(second)] };
}

async function stream(model) {
  const result = streamText({ model, prompt: "echo: streamed answer" });
  const chunks = [];
  for await (const delta of result.textStream) chunks.push(delta);
  return {
    chunks,
    text: await result.text,
    finishReason: await result.finishReason,
    usage: await result.usage,
  };
}

async function tools(model) {
  const result = await generateText({
    model,
    prompt: "create a file hello.txt containing hi",
    tools: { write: writeFile },
    stopWhen: stepCountIs(3),
  });
  return {
    ...summary(result),
    steps: result.steps.map((step) => ({
      finishReason: step.finishReason,
      toolCalls: step.toolCalls.map((c) => ({ toolName: c.toolName, input: c.input })),
      toolResults: step.toolResults.map((r) => ({ toolName: r.toolName, output: r.output })),
      text: step.text,
    })),
  };
}

const scenarios = {
  "responses-two-turns": () => twoTurns(openai.responses(modelId)),
  "responses-stream": () => stream(openai.responses(modelId)),
  "responses-tools": () => tools(openai.responses(modelId)),
  "chat-two-turns": () => twoTurns(compatible.chatModel(modelId)),
  "chat-stream": () => stream(compatible.chatModel(modelId)),
  "chat-tools": () => tools(compatible.chatModel(modelId)),
};

if (!scenarios[scenario]) {
  console.error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
try {
  const result = await scenarios[scenario]();
  console.log(JSON.stringify({ ok: true, result, sent }));
} catch (error) {
  console.log(
    JSON.stringify({
      ok: false,
      error: String(error?.stack ?? error),
      responseBody: error?.responseBody,
      statusCode: error?.statusCode,
      sent,
    }),
  );
  process.exit(1);
}
