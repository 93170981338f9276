import { useCallback, useEffect, useState, type FormEvent } from "react";

import { webhooks } from "./api";
import { ConfirmButton, TableHead } from "./admin-common";
import { ErrorAlert, formatTime } from "./components/common";
import type { Webhook } from "./types";

/** The event types a subscription may receive (service/services/webhooks.py EVENT_TYPES). */
export const WEBHOOK_EVENTS = [
  "run.completed",
  "interrupt.created",
  "interrupt.resolved",
  "interrupt.expired",
  "interrupt.cancelled",
] as const;

/** Webhook subscriptions: list, create, delete (confirmed), and the tenant's signing secret (shown once). */
export function Webhooks() {
  const [rows, setRows] = useState<Webhook[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<string[]>(["interrupt.created"]);

  const load = useCallback(async () => {
    try {
      setRows(await webhooks.list());
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const act = async (what: string, run: () => Promise<void>) => {
    setError(null);
    setNotice(null);
    try {
      await run();
      setNotice(what);
      await load();
    } catch (e) {
      setError(e);
    }
  };

  const create = (event: FormEvent) => {
    event.preventDefault();
    if (events.length === 0) {
      setError(new Error("Choose at least one event."));
      return;
    }
    void act(`Subscribed ${url.trim()}`, async () => {
      const made = await webhooks.create(url.trim(), events, description.trim() || undefined);
      if (made.secret) setSecret(made.secret);
      setUrl("");
      setDescription("");
    });
  };

  const toggle = (name: string, on: boolean) =>
    setEvents((old) => (on ? [...old.filter((e) => e !== name), name] : old.filter((e) => e !== name)));

  return (
    <section aria-labelledby="hooks-h">
      <h2 id="hooks-h">Webhooks</h2>
      {notice && (
        <div className="alert success" role="status" data-testid="webhook-notice">
          {notice}
        </div>
      )}
      <ErrorAlert error={error} testId="webhook-error" />
      {secret && (
        <div className="alert info" role="status" data-testid="webhook-secret">
          <p>
            Signing secret — copy it now, it is not shown again:{" "}
            <code className="admin-secret" data-testid="webhook-secret-value">
              {secret}
            </code>
          </p>
          <button type="button" onClick={() => setSecret(null)}>
            I have copied it
          </button>
        </div>
      )}
      <table className="admin-table" data-testid="webhooks">
        <TableHead columns={["URL", "Events", "Created", ""]} />
        <tbody>
          {(rows ?? []).map((hook) => (
            <tr key={hook.id} data-testid="webhook-row">
              <th scope="row" className="mono admin-url">
                {hook.url}
                {hook.description && <div className="muted">{hook.description}</div>}
                {!hook.active && <span className="badge"> inactive</span>}
              </th>
              <td>
                {hook.events.map((e) => (
                  <span key={e} className="chip">
                    {e}
                  </span>
                ))}
              </td>
              <td>
                {formatTime(hook.created_at)} <span className="muted">by {hook.created_by}</span>
              </td>
              <td>
                <ConfirmButton
                  label="Delete"
                  name={`Delete webhook ${hook.url}`}
                  prompt="Delete this webhook?"
                  confirmLabel="Delete webhook"
                  onConfirm={() => void act(`Deleted the webhook to ${hook.url}`, () => webhooks.remove(hook.id))}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows !== null && rows.length === 0 && <p className="muted">No webhooks yet.</p>}

      <h3>Add a webhook</h3>
      <form onSubmit={create} aria-label="Add a webhook" className="admin-form">
        <label>
          Payload URL
          <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} required placeholder="https://example.com/hooks/countersign" />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} />
        </label>
        <fieldset>
          <legend>Events</legend>
          {WEBHOOK_EVENTS.map((name) => (
            <label key={name} className="check">
              <input type="checkbox" checked={events.includes(name)} onChange={(e) => toggle(name, e.target.checked)} /> {name}
            </label>
          ))}
        </fieldset>
        <button type="submit">Add webhook</button>
      </form>

      <h3>Signing secret</h3>
      <p className="hint">Every delivery is signed with the tenant's secret. Rotating it invalidates the old one at once.</p>
      <ConfirmButton
        label="Rotate secret"
        prompt="Rotate the signing secret? Receivers must be updated with the new one."
        confirmLabel="Rotate"
        onConfirm={() =>
          void act("Rotated the signing secret", async () => {
            setSecret((await webhooks.rotateSecret()).secret);
          })
        }
      />
    </section>
  );
}
