// The decision controls of an item: Agent Inbox actions (accept, edit, respond, ignore, with
// triage keys and a confirmation for ignore), the edit and respond forms, and the answer to a
// raw interrupt (any JSON value, which the reviewer must type: nothing is pre-filled).

import { useState, type FormEvent } from "react";

import { describeError, isFlat } from "./common";
import { ConfirmPair, KeyHint } from "./item-confirm";
import { ArgsDiff } from "./item-diff";
import { useKeys } from "../item-keys";
import type { DecisionType, HumanInterrupt, InboxItemDetail, Json, JsonObject } from "../types";

type Send = (decision: Json) => Promise<void>;

interface ActionsProps {
  item: InboxItemDetail;
  human: HumanInterrupt;
  sending: boolean;
  send: Send;
}

export function AgentInboxActions({ item, human, sending, send }: ActionsProps) {
  const allowed = new Set<DecisionType>(item.allowed_decisions);
  const canEdit = allowed.has("edit") && item.can_edit;
  const [mode, setMode] = useState<"none" | "edit" | "respond">("none");
  const [confirming, setConfirming] = useState(false);

  const accept = () => void send({ type: "accept", args: null });
  const toggle = (next: "edit" | "respond") => {
    setConfirming(false);
    setMode(mode === next ? "none" : next);
  };
  const ignore = () => {
    setMode("none");
    setConfirming(true);
  };

  useKeys(
    {
      ...(allowed.has("accept") ? { a: accept } : {}),
      ...(canEdit ? { e: () => toggle("edit") } : {}),
      ...(allowed.has("response") ? { r: () => toggle("respond") } : {}),
      ...(allowed.has("ignore") ? { i: ignore } : {}),
    },
    !sending && !confirming,
  );

  return (
    <div>
      <div className="actions" role="group" aria-label="Decisions">
        {allowed.has("accept") && (
          <button type="button" className="primary" disabled={sending} aria-keyshortcuts="a" onClick={accept}>
            Accept <KeyHint k="a" />
          </button>
        )}
        {canEdit && (
          <button
            type="button"
            disabled={sending}
            aria-expanded={mode === "edit"}
            aria-keyshortcuts="e"
            onClick={() => toggle("edit")}
          >
            Edit <KeyHint k="e" />
          </button>
        )}
        {allowed.has("response") && (
          <button
            type="button"
            disabled={sending}
            aria-expanded={mode === "respond"}
            aria-keyshortcuts="r"
            onClick={() => toggle("respond")}
          >
            Respond <KeyHint k="r" />
          </button>
        )}
        {allowed.has("ignore") && (
          <button
            type="button"
            className="danger"
            disabled={sending || confirming}
            aria-keyshortcuts="i"
            onClick={ignore}
          >
            Ignore <KeyHint k="i" />
          </button>
        )}
      </div>
      {confirming && (
        <ConfirmPair
          verb="ignore"
          disabled={sending}
          onConfirm={() => {
            setConfirming(false);
            void send({ type: "ignore", args: null });
          }}
          onCancel={() => setConfirming(false)}
        />
      )}
      {allowed.has("edit") && !item.can_edit && (
        <p className="muted" data-testid="no-edit">
          Editing needs the edit permission for this type.
        </p>
      )}
      {mode === "edit" && (
        <EditForm action={human.action_request.action} args={human.action_request.args} sending={sending} send={send} />
      )}
      {mode === "respond" && <RespondForm sending={sending} send={send} />}
    </div>
  );
}

function fieldsOf(args: JsonObject): Record<string, string> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v === null ? "" : String(v)]));
}

/** The args a form's fields stand for, typed like the originals; throws with a sentence. */
function fromFields(args: JsonObject, fields: Record<string, string>): JsonObject {
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
}

function fromJson(text: string): JsonObject {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("The args must be a JSON object.");
  }
  return parsed as JsonObject;
}

function EditForm({ action, args, sending, send }: { action: string; args: JsonObject; sending: boolean; send: Send }) {
  const flat = isFlat(args);
  const [asJson, setAsJson] = useState(!flat);
  const [fields, setFields] = useState<Record<string, string>>(() => fieldsOf(args));
  const [text, setText] = useState(() => JSON.stringify(args, null, 2));
  const [invalid, setInvalid] = useState<string | null>(null);

  // the edited args as they stand, for the before/after (null while they do not parse)
  let preview: JsonObject | null = null;
  try {
    preview = asJson ? fromJson(text) : fromFields(args, fields);
  } catch {
    preview = null;
  }

  const switchMode = () => {
    setInvalid(null);
    if (!asJson) {
      try {
        setText(JSON.stringify(fromFields(args, fields), null, 2));
      } catch (e) {
        setInvalid(describeError(e));
        return;
      }
    } else {
      try {
        const parsed = fromJson(text);
        if (!isFlat(parsed)) {
          setInvalid("These args are not flat any more; keep editing them as JSON.");
          return;
        }
        setFields(fieldsOf(parsed));
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
      edited = asJson ? fromJson(text) : fromFields(args, fields);
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
        Object.entries(args).map(([key, original], index) => (
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
                autoFocus={index === 0}
                onChange={(e) => setFields({ ...fields, [key]: e.target.value })}
              />
            )}
          </label>
        ))
      )}
      {preview !== null && <ArgsDiff before={args} after={preview} label={`Changes to ${action}`} />}
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

function RespondForm({ sending, send }: { sending: boolean; send: Send }) {
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void send({ type: "response", args: text });
  };
  return (
    <form className="panel" onSubmit={submit} aria-label="Respond">
      <label className="block">
        Response to the agent
        <textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} required autoFocus />
      </label>
      <button type="submit" className="primary" disabled={sending || !text.trim()}>
        Send response
      </button>
    </form>
  );
}

export function RawAnswer({ sending, send }: { sending: boolean; send: Send }) {
  const [text, setText] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) {
      setInvalid("Type the answer first: it is sent to the agent as it is.");
      return;
    }
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
      <p className="muted">
        This interrupt is not in the Agent Inbox shape: answer it with a JSON value, for example{" "}
        <code>true</code>, <code>false</code> or <code>{'{"approved": true}'}</code>.
      </p>
      <label className="block">
        Resume value (JSON)
        <textarea
          rows={6}
          value={text}
          onChange={(e) => setText(e.target.value)}
          spellCheck={false}
          className="mono"
          required
          placeholder="true"
        />
      </label>
      {invalid && (
        <div className="alert error" role="alert" data-testid="raw-invalid">
          {invalid}
        </div>
      )}
      <button type="submit" className="primary" disabled={sending || !text.trim()}>
        Send answer
      </button>
    </form>
  );
}
