// What an item asks, in plain words, and the engine's internals behind a collapsed "Details":
// node names, thread and run status words, raw state and history.

import { ArgsTable, JsonView, formatTime, isFlat, isObject } from "./common";
import type { HumanInterrupt, InboxItemDetail, Json } from "../types";

/** The Agent Inbox HumanInterrupt inside an item's value (itself or a one-item list). */
export function humanInterrupt(item: InboxItemDetail): HumanInterrupt | null {
  if (!item.agent_inbox) return null;
  const value = Array.isArray(item.value) ? item.value[0] : item.value;
  if (!isObject(value)) return null;
  const request = value["action_request"];
  if (!isObject(request) || typeof request["action"] !== "string") return null;
  const args = request["args"];
  const description = value["description"];
  return {
    action_request: { action: request["action"], args: isObject(args) ? args : {} },
    config: isObject(value["config"]) ? (value["config"] as HumanInterrupt["config"]) : {},
    description: typeof description === "string" ? description : null,
  };
}

const VERBS: Record<string, string> = {
  accept: "accepted",
  approve: "approved",
  edit: "edited the arguments",
  response: "responded",
  respond: "responded",
  ignore: "ignored",
  reject: "rejected",
};

/** A decision in plain words: "accepted", "edited the arguments", "approved, rejected"… */
export function decisionSummary(decision: Json): string {
  if (Array.isArray(decision)) return decision.map(decisionSummary).join(", ");
  if (isObject(decision)) {
    const decisions = decision["decisions"];
    if (Array.isArray(decisions)) return decisionSummary(decisions);
    const type = decision["type"];
    if (typeof type === "string") {
      const verb = VERBS[type] ?? type;
      const text = decision["args"] ?? decision["message"];
      return (type === "response" || type === "respond" || type === "reject") && typeof text === "string" && text
        ? `${verb}: “${text}”`
        : verb;
    }
  }
  const text = JSON.stringify(decision);
  return `answered ${text.length > 80 ? `${text.slice(0, 77)}…` : text}`;
}

/** A raw interrupt's value in plain words: its question, then its other fields as a table. */
export function RawAsk({ value }: { value: Json }) {
  if (typeof value === "string") return <p className="item-question">{value}</p>;
  if (!isObject(value)) return <JsonView value={value} label="Interrupt value" />;
  const { question, ...rest } = value;
  return (
    <>
      {typeof question === "string" && (
        <p className="item-question" data-testid="item-question">
          {question}
        </p>
      )}
      {isFlat(rest) ? (
        <ArgsTable args={rest} />
      ) : (
        <>
          <ArgsTable args={Object.fromEntries(Object.entries(rest).filter(([, v]) => !isObject(v) && !Array.isArray(v)))} />
          {Object.entries(rest)
            .filter(([, v]) => isObject(v) || Array.isArray(v))
            .map(([k, v]) => (
              <div key={k}>
                <h3>{k}</h3>
                <JsonView value={v} label={k} />
              </div>
            ))}
        </>
      )}
    </>
  );
}

/** The engine's view of the item, collapsed until the reviewer opens it. */
export function ItemDetails({ item }: { item: InboxItemDetail }) {
  return (
    <details className="item-details" data-testid="details">
      <summary>Details</summary>
      <dl className="facts">
        <dt>Type</dt>
        <dd>{item.type}</dd>
        <dt>Graph node</dt>
        <dd className="mono">{item.node}</dd>
        <dt>Thread</dt>
        <dd className="mono">
          {item.thread_id} <span className="muted">owner {item.thread.owner}, {item.thread.status}</span>
        </dd>
        <dt>Interrupt</dt>
        <dd className="mono">{item.interrupt_id}</dd>
        <dt>Created</dt>
        <dd>{formatTime(item.created_at)}</dd>
      </dl>
      <h3>Interrupt value</h3>
      <JsonView value={item.value} label="Interrupt value" />
      {item.resolution && (
        <>
          <h3>Decision sent</h3>
          <JsonView value={item.resolution.decision} label="Decision" />
        </>
      )}
      <h3>State</h3>
      <JsonView value={item.thread.values} label="Thread state" />
      <h3>Recent history</h3>
      <ol className="history" data-testid="history">
        {item.history.map((h) => (
          <li key={h.checkpoint_id}>
            step {h.step ?? "?"} <span className="muted">({h.source ?? "?"})</span>
            {h.next.length > 0 && <> → next: {h.next.join(", ")}</>}
            {h.writes !== null && h.writes !== undefined && <JsonView value={h.writes} />}
          </li>
        ))}
      </ol>
      <h3>Runs</h3>
      <ul>
        {item.runs.map((r) => (
          <li key={r.run_id} className="mono">
            {r.run_id} — {r.status} <span className="muted">{formatTime(r.created_at)}</span>
          </li>
        ))}
      </ul>
    </details>
  );
}
