import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";

import { policies } from "../api";
import { ErrorAlert, JsonView, formatTime } from "../components/common";
import type { DryRunResult, EffectivePermissions, PolicyChange, PolicyView, WhoCanDecide } from "../types";

/** Tenant admin: roles, members, dry runs, explanations, history and rollback. */
export function Admin() {
  const [policy, setPolicy] = useState<PolicyView | null>(null);
  const [history, setHistory] = useState<PolicyChange[]>([]);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [editError, setEditError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [view, changes] = await Promise.all([policies.view(), policies.history()]);
      setPolicy(view);
      setHistory(changes);
      setLoadError(null);
    } catch (e) {
      setLoadError(e);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  /** Runs one edit against the version on screen (409 if someone changed it meanwhile). */
  const edit = async (what: string, change: (version: number) => Promise<PolicyView>) => {
    if (!policy) return;
    setEditError(null);
    setNotice(null);
    try {
      const next = await change(policy.version);
      setPolicy(next);
      setNotice(`${what} (policy version ${next.version}).`);
      setHistory(await policies.history());
    } catch (e) {
      setEditError(e);
      void load();
    }
  };

  if (loadError) {
    return (
      <main>
        <h1>Tenant administration</h1>
        <ErrorAlert error={loadError} testId="admin-error" />
        <p className="muted">This page is for the tenant admins of your tenant.</p>
      </main>
    );
  }
  if (!policy) return <main className="muted">Loading…</main>;

  const roleNames = Object.keys(policy.roles).sort();

  return (
    <main>
      <div className="page-head">
        <h1>Tenant administration</h1>
        <span className="badge" data-testid="policy-version">
          {policy.tenant_id} · version {policy.version}
        </span>
      </div>
      {notice && (
        <div className="alert success" role="status" data-testid="admin-notice">
          {notice}
        </div>
      )}
      <ErrorAlert error={editError} testId="admin-edit-error" />

      <Members policy={policy} roleNames={roleNames} edit={edit} />
      <Roles policy={policy} roleNames={roleNames} edit={edit} />
      <DryRun />
      <Effective />
      <WhoCan />
      <History history={history} current={policy.version} edit={edit} />
    </main>
  );
}

type Edit = (what: string, change: (version: number) => Promise<PolicyView>) => Promise<void>;

/** A form that asks the API one question: the answer, or the error that came instead. */
function useAsk<T>(ask: () => Promise<T>) {
  const [result, setResult] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    void (async () => {
      try {
        setResult(await ask()); // ask may also throw before it awaits (a bad draft)
      } catch (e) {
        setResult(null);
        setError(e);
      }
    })();
  };
  return { result, error, setError, onSubmit };
}

function Members({ policy, roleNames, edit }: { policy: PolicyView; roleNames: string[]; edit: Edit }) {
  const [user, setUser] = useState("");
  const [role, setRole] = useState(roleNames.includes("reviewer") ? "reviewer" : (roleNames[0] ?? ""));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const who = user.trim();
    void edit(`Gave ${who} the role ${role}`, (v) => policies.assignRole(who, role, v)).then(() => setUser(""));
  };
  return (
    <section aria-labelledby="members-h">
      <h2 id="members-h">Members</h2>
      <table data-testid="members">
        <thead>
          <tr>
            <th>User</th>
            <th>Roles</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(policy.members).map(([member, roles]) => (
            <tr key={member} data-testid={`member-${member}`}>
              <td className="mono">{member}</td>
              <td>
                {roles.map((r) => (
                  <span key={r} className="chip">
                    {r}{" "}
                    <button
                      type="button"
                      className="link"
                      aria-label={`Remove role ${r} from ${member}`}
                      onClick={() => void edit(`Removed ${r} from ${member}`, (v) => policies.revokeRole(member, r, v))}
                    >
                      ✕
                    </button>
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline" onSubmit={submit} aria-label="Assign a role">
        <label>
          User
          <input value={user} onChange={(e) => setUser(e.target.value)} required placeholder="bob" />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            {roleNames.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Assign role</button>
      </form>
    </section>
  );
}

function Roles({ policy, roleNames, edit }: { policy: PolicyView; roleNames: string[]; edit: Edit }) {
  const [role, setRole] = useState("");
  const [object, setObject] = useState("interrupt:");
  const [action, setAction] = useState("decide");
  const [scope, setScope] = useState("any");
  const [child, setChild] = useState("");
  const [parent, setParent] = useState("");

  const grant = (event: FormEvent) => {
    event.preventDefault();
    const r = role.trim();
    void edit(`Granted ${action} on ${object} to ${r}`, (v) => policies.grant(r, object.trim(), action.trim(), scope, v));
  };
  const inherit = (event: FormEvent) => {
    event.preventDefault();
    void edit(`${child} now inherits ${parent}`, (v) => policies.addParent(child.trim(), parent.trim(), v));
  };

  return (
    <section aria-labelledby="roles-h">
      <h2 id="roles-h">Roles and permissions</h2>
      <table data-testid="roles">
        <thead>
          <tr>
            <th>Role</th>
            <th>Permissions</th>
            <th>Inherits</th>
          </tr>
        </thead>
        <tbody>
          {roleNames.map((name) => {
            const view = policy.roles[name];
            if (!view) return null;
            return (
              <tr key={name} data-testid={`role-${name}`}>
                <td className="mono">{name}</td>
                <td>
                  {view.permissions.map((p) => (
                    <span key={`${p.object}/${p.action}/${p.scope}`} className="chip">
                      {p.action} {p.object}
                      {p.scope !== "any" && ` (${p.scope})`}{" "}
                      <button
                        type="button"
                        className="link"
                        aria-label={`Remove ${p.action} ${p.object} from ${name}`}
                        onClick={() =>
                          void edit(`Removed ${p.action} on ${p.object} from ${name}`, (v) =>
                            policies.revoke(name, p.object, p.action, p.scope, v),
                          )
                        }
                      >
                        ✕
                      </button>
                    </span>
                  ))}
                </td>
                <td>
                  {view.inherits.map((parentRole) => (
                    <span key={parentRole} className="chip">
                      {parentRole}{" "}
                      <button
                        type="button"
                        className="link"
                        aria-label={`Stop ${name} inheriting ${parentRole}`}
                        onClick={() =>
                          void edit(`${name} no longer inherits ${parentRole}`, (v) => policies.removeParent(name, parentRole, v))
                        }
                      >
                        ✕
                      </button>
                    </span>
                  ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <form className="inline" onSubmit={grant} aria-label="Grant a permission">
        <label>
          Role
          <input value={role} onChange={(e) => setRole(e.target.value)} required placeholder="finance_reviewer" list="role-names" />
        </label>
        <label>
          Object
          <input value={object} onChange={(e) => setObject(e.target.value)} required title="e.g. interrupt:refund, interrupt:any, threads, inbox" />
        </label>
        <label>
          Action
          <input value={action} onChange={(e) => setAction(e.target.value)} required title="e.g. decide, edit, read" />
        </label>
        <label>
          Scope
          <select value={scope} onChange={(e) => setScope(e.target.value)}>
            <option value="any">any</option>
            <option value="own">own threads</option>
          </select>
        </label>
        <button type="submit">Grant permission</button>
      </form>
      <p className="hint">
        Per-type decisions: object <code>interrupt:&lt;type&gt;</code> with action <code>decide</code> (accept, respond,
        ignore) or <code>edit</code>; <code>interrupt:any</code> covers every type. A new role name creates the role.
      </p>
      <form className="inline" onSubmit={inherit} aria-label="Role inheritance">
        <label>
          Role
          <input value={child} onChange={(e) => setChild(e.target.value)} required list="role-names" />
        </label>
        <label>
          Inherits from
          <input value={parent} onChange={(e) => setParent(e.target.value)} required list="role-names" />
        </label>
        <button type="submit">Add parent</button>
      </form>
      <datalist id="role-names">
        {roleNames.map((r) => (
          <option key={r} value={r} />
        ))}
      </datalist>
    </section>
  );
}

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

function DryRun() {
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

function Effective() {
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

function WhoCan() {
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

function History({ history, current, edit }: { history: PolicyChange[]; current: number; edit: Edit }) {
  return (
    <section aria-labelledby="hist-h">
      <h2 id="hist-h">History</h2>
      <table data-testid="history-table">
        <thead>
          <tr>
            <th>Version</th>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {history.map((change) => (
            <tr key={change.version} data-testid={`version-${change.version}`}>
              <td>{change.version}</td>
              <td>{formatTime(change.created_at)}</td>
              <td className="mono">{change.actor}</td>
              <td>
                {change.action}
                <JsonView value={change.detail} />
              </td>
              <td>
                {change.version !== current && (
                  <button
                    type="button"
                    onClick={() => void edit(`Rolled back to version ${change.version}`, (v) => policies.rollback(change.version, v))}
                  >
                    Roll back to v{change.version}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
