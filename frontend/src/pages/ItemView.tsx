import { useCallback, useEffect, useState, type FormEvent } from "react";

import { ApiError, inbox } from "../api";
import {
  ArgsTable,
  ErrorAlert,
  JsonView,
  Link,
  describeError,
  formatAge,
  formatTime,
  isFlat,
  isObject,
  newKey,
} from "../components/common";
import { ToolCalls, ToolReview } from "../components/ToolReview";
import type { DecisionAccepted, DecisionType, HumanInterrupt, InboxItemDetail, Json, JsonObject } from "../types";

/** The Agent Inbox HumanInterrupt inside an item's value (itself or a one-item list). */
function humanInterrupt(item: InboxItemDetail): HumanInterrupt | null {
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

function conflictMessage(error: ApiError): string {
  switch (error.code) {
    case "already_decided":
    case "nothing_pending":
      return "Someone else decided this first. The item below shows what was decided.";
    case "stale_decision":
      return "The request changed since you opened it — reload and review it again before deciding.";
    case "thread_busy":
      return "The agent is busy on this thread right now; try again in a moment.";
    default:
      return `Conflict: ${error.detail}`;
  }
}

interface Props {
  id: string;
  onDecided: (message: string) => void;
}

export function ItemView({ id, onDecided }: Props) {
  const [item, setItem] = useState<InboxItemDetail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [sendError, setSendError] = useState<unknown>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [sending, setSending] = useState(false);

  const load = useCallback(async () => {
    try {
      setItem(await inbox.item(id));
      setLoadError(null);
    } catch (e) {
      setItem(null);
      setLoadError(e);
    }
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  const send = async (decision: Json) => {
    if (!item) return;
    setSending(true);
    setSendError(null);
    setConflict(null);
    // one key per click: a retried network request replays the first answer
    const key = newKey();
    try {
      const wrapped: Json = Array.isArray(item.value) && item.agent_inbox ? [decision] : decision;
      const accepted: DecisionAccepted = await inbox.decide(item.id, wrapped, item.payload_hash, key);
      onDecided(
        `Decision sent: ${item.type} on ${item.thread_id}. Resume run ${accepted.run.run_id} is ${accepted.run.status}.`,
      );
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        setConflict(conflictMessage(e));
        await load();
      } else {
        setSendError(e);
      }
    } finally {
      setSending(false);
    }
  };

  if (loadError) {
    return (
      <main>
        <p>
          <Link to="">← Inbox</Link>
        </p>
        <ErrorAlert error={loadError} testId="item-error" />
      </main>
    );
  }
  if (!item) return <main className="muted">Loading…</main>;

  const human = humanInterrupt(item);
  const pending = item.status === "pending";
  const tools = item.kind === "hitl_request" || item.kind === "tool_approval";
  const reviewing = tools && pending && item.can_decide; // the review shows every tool call

  return (
    <main>
      <p>
        <Link to="">← Inbox</Link>
      </p>
      <div className="page-head">
        <h1 data-testid="item-title">{human ? human.action_request.action : item.type}</h1>
        <span className={`badge status-${item.status}`} data-testid="item-status">
          {item.status}
        </span>
      </div>
      {conflict && (
        <div className="alert error" role="alert" data-testid="conflict">
          {conflict}
        </div>
      )}
      <dl className="facts">
        <dt>Description</dt>
        <dd data-testid="item-description">{item.description ?? "(none)"}</dd>
        <dt>Type</dt>
        <dd>{item.type}</dd>
        <dt>Agent</dt>
        <dd>
          {item.graph_id} <span className="muted">node {item.node}</span>
        </dd>
        <dt>Thread</dt>
        <dd className="mono">
          {item.thread_id} <span className="muted">owner {item.thread.owner}, {item.thread.status}</span>
        </dd>
        <dt>Waiting</dt>
        <dd title={formatTime(item.created_at)}>{formatAge(item.age_seconds)}</dd>
        {item.expires_at && (
          <>
            <dt>Expires</dt>
            <dd>{formatTime(item.expires_at)}</dd>
          </>
        )}
      </dl>

      {human ? (
        <section aria-labelledby="args-h">
          <h2 id="args-h">Arguments</h2>
          <ArgsTable args={human.action_request.args} />
        </section>
      ) : tools ? (
        !reviewing && (
          <section aria-labelledby="calls-h">
            <h2 id="calls-h">Tool calls</h2>
            <ToolCalls actions={item.actions} />
          </section>
        )
      ) : (
        <section aria-labelledby="value-h">
          <h2 id="value-h">Interrupt value</h2>
          <JsonView value={item.value} label="Interrupt value" />
        </section>
      )}

      {item.resolution && (
        <section className="resolution" aria-labelledby="res-h" data-testid="resolution">
          <h2 id="res-h">Decided</h2>
          <p>
            {item.resolution.status} by <strong>{item.resolution.resolved_by ?? "the system"}</strong>{" "}
            {formatTime(item.resolution.resolved_at)}
          </p>
          <JsonView value={item.resolution.decision} label="Decision" />
        </section>
      )}

      {pending && (
        <section aria-labelledby="decide-h" className="decide">
          <h2 id="decide-h">Decide</h2>
          {!item.can_decide ? (
            <p className="alert info" role="status" data-testid="cannot-decide">
              You can see this item, but your role does not allow you to decide it.
            </p>
          ) : human ? (
            <AgentInboxActions item={item} human={human} sending={sending} send={send} />
          ) : tools ? (
            <ToolReview item={item} sending={sending} send={send} />
          ) : (
            <RawAnswer sending={sending} send={send} />
          )}
          <ErrorAlert error={sendError} testId="decision-error" />
        </section>
      )}

      <section aria-labelledby="ctx-h">
        <h2 id="ctx-h">Thread context</h2>
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
      </section>
    </main>
  );
}

interface ActionsProps {
  item: InboxItemDetail;
  human: HumanInterrupt;
  sending: boolean;
  send: (decision: Json) => Promise<void>;
}

function AgentInboxActions({ item, human, sending, send }: ActionsProps) {
  const allowed = new Set<DecisionType>(item.allowed_decisions);
  const canEdit = allowed.has("edit") && item.can_edit;
  const [mode, setMode] = useState<"none" | "edit" | "respond">("none");

  return (
    <div>
      <div className="actions" role="group" aria-label="Decisions">
        {allowed.has("accept") && (
          <button type="button" className="primary" disabled={sending} onClick={() => void send({ type: "accept", args: null })}>
            Accept
          </button>
        )}
        {canEdit && (
          <button type="button" disabled={sending} aria-expanded={mode === "edit"} onClick={() => setMode(mode === "edit" ? "none" : "edit")}>
            Edit
          </button>
        )}
        {allowed.has("response") && (
          <button
            type="button"
            disabled={sending}
            aria-expanded={mode === "respond"}
            onClick={() => setMode(mode === "respond" ? "none" : "respond")}
          >
            Respond
          </button>
        )}
        {allowed.has("ignore") && (
          <button type="button" className="danger" disabled={sending} onClick={() => void send({ type: "ignore", args: null })}>
            Ignore
          </button>
        )}
      </div>
      {allowed.has("edit") && !item.can_edit && (
        <p className="muted" data-testid="no-edit">
          Editing needs the edit permission for this type.
        </p>
      )}
      {mode === "edit" && (
        <EditForm
          action={human.action_request.action}
          args={human.action_request.args}
          sending={sending}
          send={send}
        />
      )}
      {mode === "respond" && <RespondForm sending={sending} send={send} />}
    </div>
  );
}

function EditForm({
  action,
  args,
  sending,
  send,
}: {
  action: string;
  args: JsonObject;
  sending: boolean;
  send: (decision: Json) => Promise<void>;
}) {
  const flat = isFlat(args);
  const [asJson, setAsJson] = useState(!flat);
  const [fields, setFields] = useState<Record<string, string>>(() =>
    Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v === null ? "" : String(v)])),
  );
  const [text, setText] = useState(() => JSON.stringify(args, null, 2));
  const [invalid, setInvalid] = useState<string | null>(null);

  const fromFields = (): JsonObject => {
    const out: JsonObject = {};
    for (const [key, original] of Object.entries(args)) {
      const raw = fields[key] ?? "";
      if (typeof original === "number") {
        const n = Number(raw);
        if (raw.trim() === "" || Number.isNaN(n)) throw new Error(`${key} must be a number.`);
        out[key] = n;
      } else if (typeof original === "boolean") {
        out[key] = raw === "true";
      } else if (original === null) {
        out[key] = raw === "" ? null : raw;
      } else {
        out[key] = raw;
      }
    }
    return out;
  };

  const switchMode = () => {
    setInvalid(null);
    if (!asJson) {
      try {
        setText(JSON.stringify(fromFields(), null, 2));
      } catch (e) {
        setInvalid(describeError(e));
        return;
      }
    } else {
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || !isFlat(parsed as JsonObject)) {
          setInvalid("These args are not flat any more; keep editing them as JSON.");
          return;
        }
        setFields(Object.fromEntries(Object.entries(parsed as JsonObject).map(([k, v]) => [k, v === null ? "" : String(v)])));
      } catch (e) {
        setInvalid(`Invalid JSON: ${describeError(e)}`);
        return;
      }
    }
    setAsJson(!asJson);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setInvalid(null);
    let edited: JsonObject;
    try {
      if (asJson) {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          setInvalid("The args must be a JSON object.");
          return;
        }
        edited = parsed as JsonObject;
      } else {
        edited = fromFields();
      }
    } catch (e) {
      setInvalid(asJson ? `Invalid JSON: ${describeError(e)}` : describeError(e));
      return;
    }
    void send({ type: "edit", args: { action, args: edited } });
  };

  return (
    <form className="panel" onSubmit={submit} aria-label="Edit the arguments">
      <h3>Edit the arguments of {action}</h3>
      {asJson ? (
        <label className="block">
          Args (JSON)
          <textarea rows={8} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} className="mono" />
        </label>
      ) : (
        Object.entries(args).map(([key, original]) => (
          <label key={key} className="field">
            {key}
            {typeof original === "boolean" ? (
              <select value={fields[key] ?? "false"} onChange={(e) => setFields({ ...fields, [key]: e.target.value })}>
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : (
              <input
                type={typeof original === "number" ? "number" : "text"}
                step={typeof original === "number" ? "any" : undefined}
                value={fields[key] ?? ""}
                onChange={(e) => setFields({ ...fields, [key]: e.target.value })}
              />
            )}
          </label>
        ))
      )}
      {invalid && (
        <div className="alert error" role="alert" data-testid="edit-invalid">
          {invalid}
        </div>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={sending}>
          Send edited args
        </button>
        {flat && (
          <button type="button" onClick={switchMode}>
            {asJson ? "Edit as form" : "Edit as JSON"}
          </button>
        )}
      </div>
    </form>
  );
}

function RespondForm({ sending, send }: { sending: boolean; send: (decision: Json) => Promise<void> }) {
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void send({ type: "response", args: text });
  };
  return (
    <form className="panel" onSubmit={submit} aria-label="Respond">
      <label className="block">
        Response to the agent
        <textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} required />
      </label>
      <button type="submit" className="primary" disabled={sending || !text.trim()}>
        Send response
      </button>
    </form>
  );
}

function RawAnswer({ sending, send }: { sending: boolean; send: (decision: Json) => Promise<void> }) {
  const [text, setText] = useState("true");
  const [invalid, setInvalid] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    let value: Json;
    try {
      value = JSON.parse(text) as Json;
    } catch (e) {
      setInvalid(`Invalid JSON: ${describeError(e)}`);
      return;
    }
    setInvalid(null);
    void send(value);
  };
  return (
    <form className="panel" onSubmit={submit} aria-label="Answer">
      <p className="muted">This interrupt is not in the Agent Inbox shape: answer it with any JSON value.</p>
      <label className="block">
        Resume value (JSON)
        <textarea rows={6} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} className="mono" />
      </label>
      {invalid && (
        <div className="alert error" role="alert" data-testid="raw-invalid">
          {invalid}
        </div>
      )}
      <button type="submit" className="primary" disabled={sending}>
        Send answer
      </button>
    </form>
  );
}
