import { useState, type FormEvent } from "react";

import { ArgsTable, isFlat, isObject } from "./common";
import { ConfirmPair } from "./item-confirm";
import { ArgsDiff } from "./item-diff";
import { useKeys } from "../item-keys";
import type { InboxAction, InboxItemDetail, Json, JsonObject, ToolDecisionType } from "../types";

// The review of a LangChain v1 request (HumanInTheLoopMiddleware): every tool call with its
// args and the decisions it allows; edits from a form (typed by the args schema when there is
// one) or as JSON, with a before/after table; a reason for a reject, a message for a respond;
// one submit (confirmed first when it rejects a call). Batched requests answer
// {"decisions": [...]}, one per call in order; a per-call approval answers its one decision.
// A one-call review takes the item page's triage keys: a approve, e edit, r respond, i reject.

const LABELS: Record<ToolDecisionType, string> = {
  approve: "Approve",
  edit: "Edit",
  reject: "Reject",
  respond: "Respond",
};

type FieldKind = "number" | "integer" | "boolean" | "string";

interface Choice {
  type: ToolDecisionType | null;
  fields: Record<string, string>;
  json: string;
  asJson: boolean;
  message: string;
}

function objectOf(value: Json): JsonObject {
  return isObject(value) ? value : {};
}

/** An argument's kind: from the args schema when it says, else from the value the agent sent. */
function kindOf(action: InboxAction, key: string, original: Json): FieldKind {
  const properties = objectOf(action.args_schema?.["properties"] ?? null);
  const declared = objectOf(properties[key] ?? null)["type"];
  if (declared === "number" || declared === "integer" || declared === "boolean" || declared === "string") {
    return declared;
  }
  if (typeof original === "number") return "number";
  if (typeof original === "boolean") return "boolean";
  return "string";
}

/** Triage keys of a one-call review: each picks a decision (a reject is confirmed on submit). */
const KEYS: Record<ToolDecisionType, string> = { approve: "a", edit: "e", respond: "r", reject: "i" };

function initial(action: InboxAction): Choice {
  const args = objectOf(action.args);
  return {
    type: null,
    fields: Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v === null ? "" : String(v)])),
    json: JSON.stringify(args, null, 2),
    asJson: !isFlat(args),
    message: "",
  };
}

/** The edited args of a choice; throws with a sentence when a field does not parse. */
function editedArgs(action: InboxAction, choice: Choice): JsonObject {
  if (choice.asJson) {
    const parsed: unknown = JSON.parse(choice.json);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new Error(`The args of ${action.name} must be a JSON object.`);
    }
    return parsed as JsonObject;
  }
  const out: JsonObject = {};
  for (const [key, original] of Object.entries(objectOf(action.args))) {
    const raw = choice.fields[key] ?? "";
    const kind = kindOf(action, key, original);
    if (kind === "number" || kind === "integer") {
      const n = Number(raw);
      if (raw.trim() === "" || Number.isNaN(n) || (kind === "integer" && !Number.isInteger(n))) {
        throw new Error(`${action.name}: ${key} must be ${kind === "integer" ? "a whole number" : "a number"}.`);
      }
      out[key] = n;
    } else if (kind === "boolean") {
      out[key] = raw === "true";
    } else {
      out[key] = original === null && raw === "" ? null : raw;
    }
  }
  return out;
}

/** The decision a choice makes, or a sentence saying what is still missing. */
function decisionOf(action: InboxAction, choice: Choice): Json | string {
  switch (choice.type) {
    case null:
      return `Choose a decision for ${action.name}.`;
    case "approve":
      return { type: "approve" };
    case "reject":
      return choice.message.trim() ? { type: "reject", message: choice.message } : { type: "reject" };
    case "respond":
      return choice.message.trim() ? { type: "respond", message: choice.message } : `Write the message for ${action.name}.`;
    case "edit":
      try {
        return { type: "edit", edited_action: { name: action.name, args: editedArgs(action, choice) } };
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
  }
}

interface Props {
  item: InboxItemDetail;
  sending: boolean;
  send: (decision: Json) => Promise<void>;
}

export function ToolReview({ item, sending, send }: Props) {
  const [choices, setChoices] = useState<Choice[]>(() => item.actions.map(initial));
  const [confirming, setConfirming] = useState(false);
  const update = (index: number, patch: Partial<Choice>) => {
    setConfirming(false);
    setChoices((all) => all.map((c, i) => (i === index ? { ...c, ...patch } : c)));
  };

  const decided = item.actions.map((action, i) => decisionOf(action, choices[i] ?? initial(action)));
  const missing = decided.find((d): d is string => typeof d === "string") ?? null;
  const rejects = choices.some((c) => c.type === "reject");

  // one tool call: the triage keys pick its decision
  const only = item.actions.length === 1 ? item.actions[0] : undefined;
  const keyed = only ? only.allowed_decisions.filter((d) => d !== "edit" || only.can_edit) : [];
  useKeys(Object.fromEntries(keyed.map((d) => [KEYS[d], () => update(0, { type: d })])), !sending && !!only);

  const sendAll = () => {
    if (missing !== null) return;
    setConfirming(false);
    const decisions = decided as Json[];
    void send(item.kind === "hitl_request" ? { decisions } : (decisions[0] ?? null));
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (missing !== null) return;
    if (rejects) setConfirming(true); // a reject is destructive: confirm it first
    else sendAll();
  };

  return (
    <form onSubmit={submit} aria-label="Review the tool calls">
      {item.actions.map((action, i) => (
        <ActionCard
          key={i}
          action={action}
          choice={choices[i] ?? initial(action)}
          update={(p) => update(i, p)}
          keyed={only !== undefined}
        />
      ))}
      {missing !== null && (
        <p className="muted" data-testid="review-missing">
          {missing}
        </p>
      )}
      {confirming ? (
        <ConfirmPair verb="reject" disabled={sending} onConfirm={sendAll} onCancel={() => setConfirming(false)} />
      ) : (
        <button type="submit" className="primary" disabled={sending || missing !== null}>
          Submit decisions
        </button>
      )}
    </form>
  );
}

function ActionCard({
  action,
  choice,
  update,
  keyed,
}: {
  action: InboxAction;
  choice: Choice;
  update: (patch: Partial<Choice>) => void;
  keyed: boolean;
}) {
  const allowed = action.allowed_decisions.filter((d) => d !== "edit" || action.can_edit);
  return (
    <section className="panel tool-call" aria-label={`Tool call ${action.name}`} data-testid="tool-call">
      <h3>{action.name}</h3>
      {action.description && <p className="muted">{action.description}</p>}
      <ArgsTable args={objectOf(action.args)} />
      <div className="actions" role="group" aria-label={`Decision on ${action.name}`}>
        {allowed.map((d) => (
          <button
            key={d}
            type="button"
            className={`${choice.type === d ? "primary " : ""}${keyed ? "item-keyed" : ""}`.trim() || undefined}
            aria-pressed={choice.type === d}
            data-key={keyed ? KEYS[d] : undefined}
            aria-keyshortcuts={keyed ? KEYS[d] : undefined}
            onClick={() => update({ type: d })}
          >
            {LABELS[d]}
          </button>
        ))}
      </div>
      {action.allowed_decisions.includes("edit") && !action.can_edit && (
        <p className="muted">Editing {action.name} needs the edit permission for it.</p>
      )}
      {choice.type === "edit" && <EditArgs action={action} choice={choice} update={update} />}
      {(choice.type === "reject" || choice.type === "respond") && (
        <label className="block">
          {choice.type === "reject" ? `Reason for rejecting ${action.name} (optional)` : `Message for ${action.name}`}
          <textarea rows={3} value={choice.message} onChange={(e) => update({ message: e.target.value })} />
        </label>
      )}
    </section>
  );
}

function EditArgs({ action, choice, update }: { action: InboxAction; choice: Choice; update: (patch: Partial<Choice>) => void }) {
  const before = objectOf(action.args);
  let after: JsonObject | null = null;
  let invalid: string | null = null;
  try {
    after = editedArgs(action, choice);
  } catch (e) {
    invalid = e instanceof Error ? e.message : String(e);
  }
  return (
    <fieldset className="edit-args">
      <legend>Edited arguments of {action.name}</legend>
      {choice.asJson ? (
        <label className="block">
          Args of {action.name} (JSON)
          <textarea rows={6} className="mono" spellCheck={false} value={choice.json} onChange={(e) => update({ json: e.target.value })} />
        </label>
      ) : (
        Object.entries(before).map(([key, original]) => {
          const kind = kindOf(action, key, original);
          const value = choice.fields[key] ?? "";
          const set = (v: string) => update({ fields: { ...choice.fields, [key]: v } });
          return (
            <label key={key} className="field">
              {key}
              {kind === "boolean" ? (
                <select value={value || "false"} onChange={(e) => set(e.target.value)}>
                  <option value="true">true</option>
                  <option value="false">false</option>
                </select>
              ) : (
                <input
                  type={kind === "string" ? "text" : "number"}
                  step={kind === "integer" ? 1 : kind === "number" ? "any" : undefined}
                  value={value}
                  onChange={(e) => set(e.target.value)}
                />
              )}
            </label>
          );
        })
      )}
      {invalid && (
        <div className="alert error" role="alert">
          {invalid}
        </div>
      )}
      {after !== null && <ArgsDiff before={before} after={after} label={`Changes to ${action.name}`} />}
    </fieldset>
  );
}

/** The tool calls of a request, read only (decided, or not the viewer's to decide). */
export function ToolCalls({ actions }: { actions: InboxAction[] }) {
  return (
    <>
      {actions.map((action, i) => (
        <section key={i} className="panel tool-call" aria-label={`Tool call ${action.name}`}>
          <h3>{action.name}</h3>
          {action.description && <p className="muted">{action.description}</p>}
          <ArgsTable args={objectOf(action.args)} />
        </section>
      ))}
    </>
  );
}
