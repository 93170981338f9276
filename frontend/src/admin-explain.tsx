import { useState, type ReactNode } from "react";

import { policies } from "./api";
import { useAsk } from "./admin-common";
import { ErrorAlert } from "./components/common";
import type { DryRunResult, EffectivePermissions, WhoCanDecide } from "./types";

/** Draft rules typed by the admin: a JSON list of rules, or an error saying what is wrong. */
function parseDraft(draft: string): string[][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(draft);
  } catch (e) {
    throw new Error(`Draft rules: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(parsed)) throw new Error("Draft rules: the draft must be a JSON list of rules");
  return parsed as string[][];
}

export function DryRun() {
  const [who, setWho] = useState<"user" | "role">("user");
  const [subject, setSubject] = useState("");
  const [object, setObject] = useState("interrupt:");
  const [action, setAction] = useState("decide");
  const [own, setOwn] = useState(false);
  const [draft, setDraft] = useState("");
  const { result, error, setError, onSubmit } = useAsk<DryRunResult>(() =>
    policies.dryRun({
      ...(who === "user" ? { user: subject.trim() } : { role: subject.trim() }),
      object: object.trim(),
      action: action.trim(),
      own,
      ...(draft.trim() ? { rules: parseDraft(draft) } : {}),
    }),
  );

  const loadRules = async () => {
    try {
      const exported = await policies.export();
      setDraft(JSON.stringify(exported.rules, null, 1));
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section aria-labelledby="dry-h">
      <h2 id="dry-h">Test a request</h2>
      <form className="inline" onSubmit={onSubmit} aria-label="Test a request">
        <label>
          Subject
          <select value={who} onChange={(e) => setWho(e.target.value === "role" ? "role" : "user")}>
            <option value="user">user</option>
            <option value="role">role</option>
          </select>
        </label>
        <label>
          Name
          <input value={subject} onChange={(e) => setSubject(e.target.value)} required aria-label="Principal" />
        </label>
        <label>
          Object
          <input value={object} onChange={(e) => setObject(e.target.value)} required aria-label="Test object" />
        </label>
        <label>
          Action
          <input value={action} onChange={(e) => setAction(e.target.value)} required aria-label="Test action" />
        </label>
        <label className="check">
          <input type="checkbox" checked={own} onChange={(e) => setOwn(e.target.checked)} />
          on their own thread
        </label>
        <button type="submit">Test</button>
      </form>
      <details>
        <summary>Test against draft rules before saving</summary>
        <p className="hint">
          Leave empty to test the saved policy. <button type="button" onClick={() => void loadRules()}>Load current rules</button>
        </p>
        <label className="block">
          Draft rules (JSON)
          <textarea rows={8} className="mono" value={draft} onChange={(e) => setDraft(e.target.value)} spellCheck={false} />
        </label>
      </details>
      <ErrorAlert error={error} testId="dry-run-error" />
      {result && (
        <div className={`alert ${result.allowed ? "success" : "warn"}`} role="status" data-testid="dry-run-result">
          <strong>{result.allowed ? "allow" : "deny"}</strong>
          {result.rule ? (
            <>
              {" "}
              — deciding rule: <code data-testid="dry-run-rule">{result.rule.join(", ")}</code>
            </>
          ) : (
            " — no rule grants this"
          )}
          {result.roles.length > 0 && <div className="muted">roles: {result.roles.join(", ")}</div>}
        </div>
      )}
    </section>
  );
}

interface QuestionProps<T> {
  title: string;
  field: string;
  button: string;
  ask: (value: string) => Promise<T>;
  children: (answer: T) => ReactNode;
}

/** A section that asks the API about one name or id and shows the answer. */
function Question<T>({ title, field, button, ask, children }: QuestionProps<T>) {
  const [value, setValue] = useState("");
  const { result, error, onSubmit } = useAsk<T>(() => ask(value.trim()));
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      <form className="inline" onSubmit={onSubmit} aria-label={title}>
        <label>
          {field}
          <input value={value} onChange={(e) => setValue(e.target.value)} required />
        </label>
        <button type="submit">{button}</button>
      </form>
      <ErrorAlert error={error} />
      {result !== null && children(result)}
    </section>
  );
}

export function Effective() {
  return (
    <Question<EffectivePermissions> title="Effective permissions" field="Effective user" button="Show" ask={policies.effective}>
      {(result) => (
        <div data-testid="effective">
          <p>
            <strong>{result.user}</strong>: roles {result.roles.length ? result.roles.join(", ") : "(none)"}, rank {result.rank}
          </p>
          <table>
            <thead>
              <tr>
                <th>Action</th>
                <th>Object</th>
                <th>Scope</th>
                <th>Via</th>
              </tr>
            </thead>
            <tbody>
              {result.permissions.map((p) => (
                <tr key={`${p.action}/${p.object}/${p.scope}/${p.via}`}>
                  <td>{p.action}</td>
                  <td className="mono">{p.object}</td>
                  <td>{p.scope}</td>
                  <td className="mono">{p.via}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Question>
  );
}

export function WhoCan() {
  return (
    <Question<WhoCanDecide> title="Who can decide" field="Inbox item id" button="Ask" ask={policies.whoCanDecide}>
      {(result) => (
        <dl className="facts" data-testid="who-can-decide">
          <dt>Type</dt>
          <dd>{result.type}</dd>
          <dt>Thread owner</dt>
          <dd>{result.thread_owner}</dd>
          <dt>May decide</dt>
          <dd>{result.decide.join(", ") || "(nobody)"}</dd>
          <dt>May edit</dt>
          <dd>{result.edit.join(", ") || "(nobody)"}</dd>
        </dl>
      )}
    </Question>
  );
}

