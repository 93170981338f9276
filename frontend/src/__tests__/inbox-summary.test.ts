import { describe, expect, it } from "vitest";

import { formatAgo, formatClock } from "../components/common";
import { amountOf, argsLine, shortThread, summarize } from "../inbox-summary";
import type { InboxItem, Json } from "../types";

function item(value: Json, extra: Partial<InboxItem> = {}): InboxItem {
  return {
    id: "i1",
    thread_id: "acme:019aed3c-1111-7000-8000-000000000001",
    interrupt_id: "x",
    task_id: "t",
    node: "n",
    run_id: null,
    graph_id: "g",
    type: "raw",
    status: "pending",
    description: null,
    value,
    agent_inbox: false,
    allowed_decisions: ["response"],
    payload_hash: "h",
    checkpoint_id: null,
    created_at: "2026-12-05T14:03:00Z",
    expires_at: null,
    age_seconds: 1,
    kind: "raw",
    actions: [],
    can_decide: true,
    can_edit: false,
    thread: { thread_id: "acme:s", owner: "alice", status: "interrupted", metadata: {} },
    ...extra,
  };
}

describe("summarize", () => {
  it("says an Agent Inbox action, its first args and its amount", () => {
    const args = { amount: 42, currency: "EUR", order_id: "A-1", note: "x" };
    const request = { action_request: { action: "refund", args } };
    const s = summarize(item([request], { agent_inbox: true, description: "Refund?" }));
    expect(s.title).toBe("refund");
    expect(s.text).toBe("Refund?");
    expect(s.args).toBe("amount: 42 · currency: EUR · order_id: A-1 · +1 more");
    expect(s.amount).toContain("42");
  });

  it("shows the question of a raw interrupt, and the rest as args", () => {
    const value = { type: "publish_post", question: "Publish this post?", draft: "Hello" };
    const s = summarize(item(value, { type: "publish_post" }));
    expect(s).toEqual({ title: "publish_post", text: "Publish this post?", args: "draft: Hello", amount: null });
    expect(summarize(item("Go ahead?")).text).toBe("Go ahead?");
  });

  it("names every tool of a LangChain request", () => {
    const action = (name: string, args: Json) => ({
      name,
      args,
      description: null,
      allowed_decisions: [],
      args_schema: null,
      can_decide: true,
      can_edit: true,
    });
    const actions = [action("lookup_order", { id: 1 }), action("issue_refund", { total: 30 })];
    const s = summarize(item({}, { actions }));
    expect(s.title).toBe("lookup_order, issue_refund");
    expect(s.amount).toBe("30");
  });
});

describe("pieces", () => {
  it("clips long values and skips what it is told", () => {
    expect(argsLine({ a: "x".repeat(60), b: [1] }, ["b"])).toBe(`a: ${"x".repeat(39)}…`);
    expect(argsLine({})).toBeNull();
  });

  it("finds amounts only in number-like amount args", () => {
    expect(amountOf({ amount: "" })).toBeNull();
    expect(amountOf({ price: "abc" })).toBeNull();
    expect(amountOf({ order: 5 })).toBeNull();
    expect(amountOf({ refund_amount: 12.5, currency: "nope" })).toBe((12.5).toLocaleString());
  });

  it("cuts thread ids to 8 characters of their session part", () => {
    expect(shortThread("acme:019aed3c-7d2e-7000-8000-3f1c9a2b4d5e")).toBe("9a2b4d5e");
    expect(shortThread("plain-session-id")).toBe("ssion-id");
  });

  it("formats times absolutely and relatively", () => {
    expect(formatClock("2020-01-02T03:04:00")).toMatch(/^2 \S+ 2020 03:04$/);
    expect(formatAgo(2)).toBe("just now");
    expect(formatAgo(180)).toBe("3 min ago");
  });
});
