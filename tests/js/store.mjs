// The store of the official JS SDK (@langchain/langgraph-sdk, client.store) against a live
// Countersign. Run by tests/e2e/test_js_store.py with COUNTERSIGN_URL, TOKEN_A and TOKEN_B (two
// tenants). Prints one JSON line {"checks": [...]} and exits 0, or names the first failed check
// and exits 1.
import assert from "node:assert/strict";

import { a, b, check, done } from "./harness.mjs";

await check("store.putItem and getItem", async () => {
  await a.store.putItem(["users", "ada"], "prefs", { theme: "dark" });
  const item = await a.store.getItem(["users", "ada"], "prefs");
  assert.deepEqual(item.namespace, ["users", "ada"]);
  assert.equal(item.key, "prefs");
  assert.deepEqual(item.value, { theme: "dark" });
  assert.ok(item.createdAt && item.updatedAt);
});

await check("store.searchItems", async () => {
  for (let n = 0; n < 4; n++) {
    await a.store.putItem(["docs", "ada"], `d${n}`, { n, even: n % 2 === 0 });
  }
  const even = await a.store.searchItems(["docs"], { filter: { even: true } });
  assert.deepEqual(even.items.map((i) => i.value.n).sort(), [0, 2]);
  const page = await a.store.searchItems(["docs"], { limit: 3, offset: 1 });
  assert.equal(page.items.length, 3);
});

await check("store.listNamespaces", async () => {
  const all = await a.store.listNamespaces();
  assert.deepEqual(all.namespaces.map((n) => n.join("/")).sort(), ["docs/ada", "users/ada"]);
  const top = await a.store.listNamespaces({ maxDepth: 1 });
  assert.deepEqual(top.namespaces.map((n) => n.join("/")).sort(), ["docs", "users"]);
  const users = await a.store.listNamespaces({ prefix: ["users"] });
  assert.deepEqual(users.namespaces, [["users", "ada"]]);
});

await check("store.deleteItem", async () => {
  await a.store.deleteItem(["users", "ada"], "prefs");
  assert.equal(await a.store.getItem(["users", "ada"], "prefs"), null);
});

await check("two tenants are isolated", async () => {
  assert.equal(await b.store.getItem(["docs", "ada"], "d0"), null);
  assert.deepEqual((await b.store.searchItems([], { limit: 100 })).items, []);
  assert.deepEqual((await b.store.listNamespaces()).namespaces, []);
  await b.store.putItem(["docs", "ada"], "d0", { n: -1 });
  assert.equal((await a.store.getItem(["docs", "ada"], "d0")).value.n, 0);
});

done();
