// What one inbox row says about an interrupt: what is asked (action or tool), its key args, an
// amount when the args carry one, and the text a raw interrupt asks.

import { isObject } from "./components/common";
import type { InboxItem, Json, JsonObject } from "./types";

export interface Summary {
  title: string;
  text: string | null;
  args: string | null;
  amount: string | null;
}

const SHOWN_ARGS = 3;
const VALUE_CHARS = 40;
const TEXT_KEYS = ["question", "prompt", "message", "text", "query", "content", "description"];
const AMOUNT_KEY = /amount|total|price|cost|sum/i;
const CURRENCY_KEYS = ["currency", "currency_code"];

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function compact(value: Json): string {
  return clip(typeof value === "string" ? value : JSON.stringify(value), VALUE_CHARS);
}

/** `order_id: A-1 · amount: 42 · currency: EUR`, the first few args, then how many more. */
export function argsLine(args: JsonObject, skip: readonly string[] = []): string | null {
  const entries = Object.entries(args).filter(([key]) => !skip.includes(key));
  if (entries.length === 0) return null;
  const shown = entries.slice(0, SHOWN_ARGS).map(([key, value]) => `${key}: ${compact(value)}`);
  const more = entries.length - SHOWN_ARGS;
  return shown.join(" · ") + (more > 0 ? ` · +${more} more` : "");
}

/** The first amount-like arg, with its currency when the args name one. */
export function amountOf(args: JsonObject): string | null {
  for (const [key, value] of Object.entries(args)) {
    if (!AMOUNT_KEY.test(key)) continue;
    if (typeof value === "string" && value.trim() === "") continue;
    const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
    if (!Number.isFinite(n)) continue;
    const currency = CURRENCY_KEYS.map((k) => args[k]).find((c) => typeof c === "string");
    if (typeof currency === "string" && /^[A-Za-z]{3}$/.test(currency)) {
      try {
        return n.toLocaleString(undefined, { style: "currency", currency: currency.toUpperCase() });
      } catch {
        // not a currency the browser knows: plain number below
      }
    }
    return n.toLocaleString(undefined, { maximumFractionDigits: 2 });
  }
  return null;
}

function firstValue(item: InboxItem): Json {
  return Array.isArray(item.value) ? (item.value[0] ?? null) : item.value;
}

/** The Agent Inbox action request of an item, when it has one. */
function actionRequest(item: InboxItem): { action: string; args: JsonObject } | null {
  const value = firstValue(item);
  if (!item.agent_inbox || !isObject(value)) return null;
  const request = value["action_request"];
  if (!isObject(request) || typeof request["action"] !== "string") return null;
  return { action: request["action"], args: isObject(request["args"]) ? request["args"] : {} };
}

/** The question of a raw interrupt: its value when it is text, else its first text field. */
function rawText(value: Json): string | null {
  if (typeof value === "string") return value;
  if (!isObject(value)) return value === null ? null : JSON.stringify(value);
  for (const key of TEXT_KEYS) {
    const text = value[key];
    if (typeof text === "string" && text.trim()) return text;
  }
  return null;
}

export function summarize(item: InboxItem): Summary {
  const request = actionRequest(item);
  if (request) {
    return {
      title: request.action,
      text: item.description,
      args: argsLine(request.args),
      amount: amountOf(request.args),
    };
  }
  if (item.actions.length > 0) {
    const objects = item.actions.map((a) => (isObject(a.args) ? a.args : {}));
    const first = item.actions[0];
    const single = item.actions.length === 1 && first && isObject(first.args) ? first.args : null;
    return {
      title: item.actions.map((a) => a.name).join(", "),
      text: item.description,
      args: single ? argsLine(single) : null,
      amount: objects.map(amountOf).find((a) => a !== null) ?? null,
    };
  }
  const value = firstValue(item);
  const args = isObject(value) ? value : {};
  const text = item.description ?? rawText(value);
  const used = ["type", ...TEXT_KEYS.filter((k) => args[k] === text)];
  return { title: item.type, text, args: argsLine(args, used), amount: amountOf(args) };
}

/**
 * 8 characters that tell threads apart: the end of the session part of a `tenant:session` id
 * (a time-ordered UUID starts with its timestamp, so threads of one minute share their start).
 */
export function shortThread(threadId: string): string {
  const session = threadId.includes(":") ? threadId.slice(threadId.indexOf(":") + 1) : threadId;
  return session.slice(-8);
}
