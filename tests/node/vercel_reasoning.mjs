// The Vercel AI SDK (`ai` + `@ai-sdk/openai`) against the proxy's Responses API, as its docs
// use it: `streamText` over `openai.responses(model)`, asking for a reasoning summary (the only
// thinking the SDK shows) and, with MODE `search`, the provider's web search tool.
//
//   node vercel_reasoning.mjs MODE BASE_URL
//
// MODE is `reasoning` or `search`. BASE_URL is the proxy's base URL including `/v1`. Prints one
// JSON object on stdout: the stream's part types in order, the reasoning and the text it
// assembled, and the sources. On any throw it prints `{"error": {...}}` instead and exits 1.

import { createOpenAI } from "@ai-sdk/openai";
import { streamText } from "ai";

async function main(mode, baseURL) {
  const openai = createOpenAI({ baseURL, apiKey: process.env.PROXY_API_KEY ?? "sk-fake-client" });
  const search = mode === "search";
  const result = streamText({
    model: openai.responses(search ? "qwen-plus" : "qwen3-max"),
    prompt: search ? "What is the weather in Hangzhou?" : "Hello, think first.",
    tools: search ? { web_search: openai.tools.webSearch({}) } : undefined,
    providerOptions: {
      // A Qwen model is no OpenAI reasoning model to the SDK: `forceReasoning` says it thinks.
      openai: search ? {} : { forceReasoning: true, reasoningEffort: "low", reasoningSummary: "auto" },
    },
  });
  const out = { parts: [], reasoning: "", text: "", sources: [] };
  for await (const part of result.fullStream) {
    if (out.parts.at(-1) !== part.type) out.parts.push(part.type);
    if (part.type === "reasoning-delta") out.reasoning += part.text;
    if (part.type === "text-delta") out.text += part.text;
    if (part.type === "source") out.sources.push({ url: part.url, title: part.title });
    if (part.type === "error") throw part.error;
  }
  out.reasoningText = (await result.reasoningText) ?? null;
  return out;
}

const [mode, baseURL] = process.argv.slice(2);
try {
  console.log(JSON.stringify(await main(mode, baseURL)));
} catch (error) {
  console.log(JSON.stringify({ error: { name: error?.name, message: String(error?.message ?? error) } }));
  process.exit(1);
}
