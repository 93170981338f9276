// The official JS SDK (@langchain/langgraph-sdk) against a live Countersign.
// Run by tests/e2e/test_js_sdk.py with COUNTERSIGN_URL, TOKEN_A and TOKEN_B (two tenants).
// Prints one JSON line {"checks": [...]} and exits 0, or names the first failed check and exits 1.
import assert from "node:assert/strict";

import { a, b, check, collect, done } from "./harness.mjs";

const REFUND = { request: { order_id: "J-1", amount: 80, customer: "Ada", reason: "broken" } };
const ASK = { messages: [{ role: "user", content: "Refund order B-7, 30 EUR: it came broken." }] };

let thread;
let run;

await check("threads.create", async () => {
  thread = await a.threads.create({ metadata: { sdk: "js" } });
  assert.ok(thread.thread_id);
});

await check("runs.create returns the run", async () => {
  run = await a.runs.create(thread.thread_id, "refund_agent", { input: REFUND });
  assert.ok(run, "runs.create returned nothing (a 202's body is dropped by the SDK)");
  assert.equal(run.thread_id, thread.thread_id);
  assert.ok(["pending", "running", "success"].includes(run.status));
});

await check("runs.join", async () => {
  const values = await a.runs.join(thread.thread_id, run.run_id);
  assert.equal(values.__interrupt__.length, 1);
});

await check("threads.getState", async () => {
  const state = await a.threads.getState(thread.thread_id);
  assert.deepEqual(state.next, ["review"]);
  assert.equal(state.tasks[0].interrupts.length, 1);
});

await check("threads.search and count", async () => {
  const found = await a.threads.search({ status: "interrupted", metadata: { sdk: "js" } });
  assert.deepEqual(found.map((t) => t.thread_id), [thread.thread_id]);
  assert.ok((await a.threads.count({ status: "interrupted" })) >= 1);
});

await check("runs.wait with command.resume", async () => {
  const values = await a.runs.wait(thread.thread_id, "refund_agent", {
    command: { resume: { type: "edit", args: { action: "refund", args: { order_id: "J-1", amount: 60, currency: "EUR" } } } },
  });
  assert.equal(values.decision.type, "edit");
});

await check("threads.getHistory", async () => {
  const history = await a.threads.getHistory(thread.thread_id, { limit: 50 });
  assert.ok(history.length >= 3);
  assert.ok(history.every((h) => h.checkpoint.checkpoint_id));
});

await check("threads.updateState", async () => {
  const fresh = await a.threads.create();
  await a.runs.wait(fresh.thread_id, "refund_agent", { input: REFUND });
  const updated = await a.threads.updateState(fresh.thread_id, {
    values: { decision: { type: "ignore", args: null } },
    asNode: "review",
  });
  assert.ok(updated.checkpoint.checkpoint_id);
  const state = await a.threads.getState(fresh.thread_id);
  assert.deepEqual(state.next, ["act"]);
});

await check("runs.stream values + updates", async () => {
  const fresh = await a.threads.create();
  const parts = await collect(
    a.runs.stream(fresh.thread_id, "refund_agent", { input: REFUND, streamMode: ["values", "updates"] }),
  );
  const kinds = new Set(parts.map((p) => p.event));
  assert.ok(kinds.has("metadata") && kinds.has("values") && kinds.has("updates"), [...kinds].join());
});

await check("runs.stream messages (LangChain agent tokens)", async () => {
  const fresh = await a.threads.create();
  const parts = await collect(
    a.runs.stream(fresh.thread_id, "support_agent", { input: ASK, streamMode: ["messages"] }),
  );
  const partial = parts.filter((p) => p.event === "messages/partial");
  assert.ok(partial.length >= 5, `only ${partial.length} partial messages`);
  const texts = partial.map((p) => p.data[0].content);
  assert.ok(texts.includes("Let me take care of that."), texts.join(" | "));
});

await check("runs.cancel", async () => {
  const fresh = await a.threads.create();
  const slow = await a.runs.create(fresh.thread_id, "slow", { input: { steps: 50, seconds: 0.1 } });
  for (let i = 0; i < 100; i++) {
    if ((await a.runs.get(fresh.thread_id, slow.run_id)).status === "running") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await a.runs.cancel(fresh.thread_id, slow.run_id, true);
  const after = await a.runs.get(fresh.thread_id, slow.run_id);
  assert.equal(after.status, "interrupted");
});

await check("threads.joinStream", async () => {
  const fresh = await a.threads.create();
  const seen = [];
  const joined = (async () => {
    for await (const part of a.threads.joinStream(fresh.thread_id)) {
      seen.push(part);
      if (part.event === "values" && part.data?.done?.length === 3) break;
    }
  })();
  await new Promise((r) => setTimeout(r, 500)); // the join is in place: it follows new runs
  const slow = await a.runs.create(fresh.thread_id, "slow", { input: { steps: 3, seconds: 0.2 } });
  await joined;
  const kinds = new Set(seen.map((p) => p.event));
  assert.ok(kinds.has("metadata") && kinds.has("values"), [...kinds].join());
  assert.equal(seen[0].data.run_id, slow.run_id);
});

await check("two tenants are isolated", async () => {
  await assert.rejects(b.threads.getState(thread.thread_id), (error) => error?.status === 404);
  await assert.rejects(b.runs.get(thread.thread_id, run.run_id), (error) => error?.status === 404);
  const theirs = await b.threads.search({ metadata: { sdk: "js" } });
  assert.deepEqual(theirs, []);
});

done();
