// Thread streaming sessions of the official JS SDK (@langchain/langgraph-sdk,
// client.threads.stream) against a live Countersign. Run by tests/e2e/test_thread_stream_sdk.py
// with COUNTERSIGN_URL, TOKEN_A and TOKEN_B. Prints one JSON line {"checks": [...]} and exits 0, or
// names the first failed check and exits 1.
import assert from "node:assert/strict";

import { a, b, check, collect, done } from "./harness.mjs";

const ASK = { messages: [{ role: "user", content: "Refund order B-7, 30 EUR: it came broken." }] };

await check("threads.stream: messages, tool calls and output", async () => {
  const thread = a.threads.stream({ assistantId: "support_agent_unreviewed" });
  try {
    await thread.run.start({ input: ASK });
    const [messages, toolCalls] = await Promise.all([
      collect(thread.messages),
      collect(thread.toolCalls),
    ]);
    const final = await thread.output;
    assert.ok(messages.length >= 2, `messages: ${messages.length}`);
    // a call is yielded when it starts and again when it finishes: one handle per call id
    const calls = new Map(toolCalls.map((c) => [c.id, c]));
    assert.deepEqual([...calls.values()].map((c) => c.name).sort(), [
      "ask_customer",
      "issue_refund",
      "lookup_order",
      "send_email",
    ]);
    const refund = [...calls.values()].find((c) => c.name === "issue_refund");
    assert.deepEqual(refund.input, { order_id: "B-7", amount: 30 });
    assert.equal(await refund.output, "Refunded 30.00 EUR on B-7.");
    assert.match(final.messages.at(-1).content, /^Done\./);
  } finally {
    await thread.close();
  }
});

await check("threads.stream: another tenant's thread is a 404", async () => {
  const owner = await a.threads.create();
  const thread = b.threads.stream(owner.thread_id, { assistantId: "support_agent_unreviewed" });
  try {
    await assert.rejects(thread.run.start({ input: ASK }), /404/);
  } finally {
    await thread.close();
  }
});

done();
