// The real openai-node SDK against the proxy, on the code-interpreter request of the vendor page.
//
//   node code_interpreter.mjs MODE [BASE_URL]
//
// MODE is `raw` (iterate the chunks of `chat.completions.create({stream: true})`) or `helper`
// (`chat.completions.stream(...)` then `finalChatCompletion()`). BASE_URL is the proxy's base URL
// including `/v1` (for example http://127.0.0.1:8000/ci/reasoning/v1); without it, the
// environment variable PROXY_BASE_URL. Prints one JSON object on stdout. On any throw it prints
// `{"error": {...}}` instead and exits 1.

import OpenAI from "openai";

const QUESTION = "123 to the power of 21: compute it with the code interpreter.";

function request() {
  return {
    model: "qwen3-max-preview",
    messages: [{ role: "user", content: QUESTION }],
    // DashScope's extras: the Node SDK sends unknown body keys as they are.
    enable_code_interpreter: true,
    enable_thinking: true,
    stream_options: { include_usage: true },
  };
}

// What a client assembles from raw chunks, counting how often each once-only field arrives.
async function raw(client) {
  const out = {
    chunks: 0,
    roles: [],
    reasoning: "",
    content: "",
    toolCalls: [],
    finishReasons: [],
    usage: null,
  };
  const stream = await client.chat.completions.create({ ...request(), stream: true });
  for await (const chunk of stream) {
    out.chunks += 1;
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices) {
      const delta = choice.delta ?? {};
      if (delta.role) out.roles.push(delta.role);
      out.reasoning += delta.reasoning_content ?? "";
      out.content += delta.content ?? "";
      for (const call of delta.tool_calls ?? []) {
        const slot = (out.toolCalls[call.index] ??= {
          ids: [],
          types: [],
          names: [],
          arguments: "",
        });
        if (call.id) slot.ids.push(call.id);
        if (call.type) slot.types.push(call.type);
        if (call.function?.name) slot.names.push(call.function.name);
        slot.arguments += call.function?.arguments ?? "";
      }
      if (choice.finish_reason) out.finishReasons.push(choice.finish_reason);
    }
  }
  out.toolCalls = out.toolCalls.map((slot) => ({ ...slot, parsed: JSON.parse(slot.arguments) }));
  return out;
}

async function helper(client) {
  const doneEvents = [];
  const stream = client.chat.completions.stream(request());
  stream.on("tool_calls.function.arguments.done", (event) => {
    doneEvents.push({ name: event.name, index: event.index, arguments: event.arguments });
  });
  const final = await stream.finalChatCompletion();
  return { completion: final, argumentsDone: doneEvents };
}

async function main() {
  const [mode, baseArg] = process.argv.slice(2);
  const baseURL = baseArg ?? process.env.PROXY_BASE_URL;
  if (!baseURL || !["raw", "helper"].includes(mode)) {
    throw new Error("usage: node code_interpreter.mjs raw|helper BASE_URL");
  }
  const client = new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0, timeout: 30_000 });
  const result = mode === "raw" ? await raw(client) : await helper(client);
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => {
  const name = error?.constructor?.name ?? "Error";
  const body = { error: { name, status: error?.status, message: String(error?.message ?? error) } };
  process.stdout.write(JSON.stringify(body));
  process.exitCode = 1;
});
