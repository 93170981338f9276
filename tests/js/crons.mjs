// Crons of the official JS SDK (@langchain/langgraph-sdk, client.crons) against a live
// Countersign. Run by tests/e2e/test_js_crons.py with COUNTERSIGN_URL, TOKEN_A and TOKEN_B (two
// tenants). Prints one JSON line {"checks": [...]} and exits 0, or names the first failed check
// and exits 1.
import assert from "node:assert/strict";

import { a, b, check, done } from "./harness.mjs";

const QUICK = { steps: 1, seconds: 0.01 };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let thread;
let threadCron;
let stateless;

await check("crons.createForThread", async () => {
  thread = await a.threads.create();
  threadCron = await a.crons.createForThread(thread.thread_id, "slow", {
    schedule: "0 6 * * *",
    input: QUICK,
    metadata: { sdk: "js" },
    timezone: "Asia/Tokyo",
  });
  assert.equal(threadCron.thread_id, thread.thread_id);
  assert.equal(threadCron.schedule, "0 6 * * *");
  assert.equal(threadCron.timezone, "Asia/Tokyo");
  assert.equal(threadCron.enabled, true);
  assert.deepEqual(threadCron.metadata, { sdk: "js" });
  // 06:00 in Tokyo is 21:00 UTC
  assert.equal(new Date(threadCron.next_run_date).getUTCHours(), 21);
});

await check("crons.create (stateless)", async () => {
  stateless = await a.crons.create("slow", { schedule: "0 0 1 1 *", input: QUICK });
  assert.equal(stateless.thread_id, null);
  assert.equal(stateless.on_run_completed, "delete");
});

await check("crons.search and count", async () => {
  const all = await a.crons.search();
  assert.deepEqual(new Set(all.map((c) => c.cron_id)), new Set([threadCron.cron_id, stateless.cron_id]));
  const mine = await a.crons.search({ threadId: thread.thread_id });
  assert.deepEqual(mine.map((c) => c.cron_id), [threadCron.cron_id]);
  assert.equal(await a.crons.count(), 2);
  assert.equal(await a.crons.count({ metadata: { sdk: "js" } }), 1);
});

await check("crons.update", async () => {
  const updated = await a.crons.update(threadCron.cron_id, { schedule: "30 * * * *", enabled: false });
  assert.equal(updated.schedule, "30 * * * *");
  assert.equal(updated.enabled, false);
  const disabled = await a.crons.search({ enabled: false });
  assert.deepEqual(disabled.map((c) => c.cron_id), [threadCron.cron_id]);
});

await check("a cron fires until its end", async () => {
  const endTime = new Date(Date.now() + 2500).toISOString();
  const firing = await a.crons.createForThread(thread.thread_id, "slow", {
    schedule: "* * * * * *",
    input: QUICK,
    endTime,
  });
  let found = [];
  for (let i = 0; i < 300; i++) {
    const [cron] = (await a.crons.search({ threadId: thread.thread_id, enabled: false })).filter(
      (c) => c.cron_id === firing.cron_id,
    );
    found = (await a.runs.list(thread.thread_id, { limit: 100 })).filter(
      (r) => r.metadata.cron_id === firing.cron_id,
    );
    if (cron && found.length && found.every((r) => r.status === "success")) break;
    await sleep(200);
  }
  assert.ok(found.length >= 1 && found.length <= 4, `${found.length} runs`);
  assert.ok(found.every((r) => r.status === "success"), JSON.stringify(found.map((r) => r.status)));
  // a firing due before the end may run a tick (1 s) or more after it on a busy machine; what
  // must hold is that none comes once the cron is disabled
  await sleep(2500);
  const after = (await a.runs.list(thread.thread_id, { limit: 100 })).filter(
    (r) => r.metadata.cron_id === firing.cron_id,
  );
  assert.equal(after.length, found.length, "a run after the cron's end");
});

await check("crons.delete", async () => {
  await a.crons.delete(threadCron.cron_id);
  const left = await a.crons.search({ threadId: thread.thread_id });
  assert.ok(!left.some((c) => c.cron_id === threadCron.cron_id));
  await assert.rejects(a.crons.delete(threadCron.cron_id), /404|not found/i);
});

await check("invalid schedule is 422", async () => {
  await assert.rejects(a.crons.create("slow", { schedule: "not a schedule" }), /422|invalid/i);
});

await check("two tenants are isolated", async () => {
  assert.deepEqual(await b.crons.search(), []);
  assert.equal(await b.crons.count(), 0);
  await assert.rejects(b.crons.update(stateless.cron_id, { enabled: false }), /404|not found/i);
  await assert.rejects(b.crons.delete(stateless.cron_id), /404|not found/i);
  await assert.rejects(
    b.crons.createForThread(thread.thread_id, "slow", { schedule: "0 0 1 1 *" }),
    /404|not found/i,
  );
  assert.equal(await a.crons.count(), 2);
});

done();
