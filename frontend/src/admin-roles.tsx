import { useState, type FormEvent } from "react";

import { policies } from "./api";
import { ConfirmButton, type Edit, TableHead } from "./admin-common";
import type { PolicyView } from "./types";

/** The tenant admins' own role: the editor does not offer to delete it. */
const ADMIN_ROLE = "tenant_admin";

interface Props {
  policy: PolicyView;
  roleNames: string[];
  types: string[];
  edit: Edit;
}

/** Roles: what each grants and inherits, create, delete (with confirmation), advanced grants. */
export function Roles({ policy, roleNames, types, edit }: Props) {
  const [name, setName] = useState("");
  const [firstType, setFirstType] = useState("any");
  const [firstAction, setFirstAction] = useState("decide");

  const create = (event: FormEvent) => {
    event.preventDefault();
    const role = name.trim();
    void edit(`Created role ${role}`, (v) => policies.grant(role, `interrupt:${firstType}`, firstAction, "any", v)).then(
      (ok) => ok && setName(""),
    );
  };

  /** A role exists while a rule names it: revoke its members, parents and permissions, one edit each. */
  const remove = async (role: string) => {
    const view = policy.roles[role];
    if (!view) return;
    for (const [user, roles] of Object.entries(policy.members)) {
      if (roles.includes(role) && !(await edit(`Removed ${role} from ${user}`, (v) => policies.revokeRole(user, role, v)))) return;
    }
    for (const [child, other] of Object.entries(policy.roles)) {
      if (other.inherits.includes(role) && !(await edit(`${child} no longer inherits ${role}`, (v) => policies.removeParent(child, role, v)))) return;
    }
    for (const parent of view.inherits) {
      if (!(await edit(`${role} no longer inherits ${parent}`, (v) => policies.removeParent(role, parent, v)))) return;
    }
    for (const p of view.permissions) {
      if (!(await edit(`Removed ${p.action} on ${p.object} from ${role}`, (v) => policies.revoke(role, p.object, p.action, p.scope, v)))) return;
    }
  };

  return (
    <section aria-labelledby="roles-h">
      <h2 id="roles-h">Roles</h2>
      <table data-testid="roles" className="admin-table">
        <TableHead columns={["Role", "Permissions", "Inherits", "Members", ""]} />
        <tbody>
          {roleNames.map((role) => {
            const view = policy.roles[role];
            if (!view) return null;
            const members = Object.entries(policy.members).filter(([, roles]) => roles.includes(role)).length;
            return (
              <tr key={role} data-testid={`role-${role}`}>
                <th scope="row" className="mono">
                  {role}
                </th>
                <td>
                  {view.permissions.map((p) => (
                    <span key={`${p.object}/${p.action}/${p.scope}`} className="chip">
                      {p.action} {p.object}
                      {p.scope !== "any" && ` (${p.scope})`}{" "}
                      <ConfirmButton
                        label="✕"
                        className="link"
                        name={`Remove ${p.action} ${p.object} from ${role}`}
                        prompt={`Remove ${p.action} ${p.object} from ${role}?`}
                        onConfirm={() =>
                          void edit(`Removed ${p.action} on ${p.object} from ${role}`, (v) =>
                            policies.revoke(role, p.object, p.action, p.scope, v),
                          )
                        }
                      />
                    </span>
                  ))}
                </td>
                <td>
                  {view.inherits.map((parent) => (
                    <span key={parent} className="chip">
                      {parent}{" "}
                      <ConfirmButton
                        label="✕"
                        className="link"
                        name={`Stop ${role} inheriting ${parent}`}
                        prompt={`Stop ${role} inheriting ${parent}?`}
                        onConfirm={() => void edit(`${role} no longer inherits ${parent}`, (v) => policies.removeParent(role, parent, v))}
                      />
                    </span>
                  ))}
                </td>
                <td>{members}</td>
                <td>
                  {role === ADMIN_ROLE ? (
                    <span className="muted" title="Deleting it could lock every admin out">
                      kept
                    </span>
                  ) : (
                    <ConfirmButton
                      label="Delete"
                      name={`Delete role ${role}`}
                      prompt={`Delete role ${role}${members ? ` and remove it from ${members} member(s)` : ""}?`}
                      confirmLabel="Delete role"
                      onConfirm={() => void remove(role)}
                    />
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>

      <h3>Create a role</h3>
      <form className="inline" onSubmit={create} aria-label="Create a role">
        <label>
          Role name
          <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[A-Za-z0-9_.\-]+" placeholder="finance_reviewer" />
        </label>
        <label>
          First permission
          <select value={firstAction} onChange={(e) => setFirstAction(e.target.value)} aria-label="First action">
            <option value="decide">decide</option>
            <option value="edit">edit</option>
          </select>
        </label>
        <label>
          Interrupt type
          <select value={firstType} onChange={(e) => setFirstType(e.target.value)}>
            {types.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Create role</button>
      </form>
      <AdvancedGrants roleNames={roleNames} edit={edit} />
    </section>
  );
}

/** Free-form grants (any object, e.g. threads or webhooks) and role inheritance. */
function AdvancedGrants({ roleNames, edit }: { roleNames: string[]; edit: Edit }) {
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
    <details className="admin-advanced" open>
      <summary>Any permission and inheritance</summary>
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
    </details>
  );
}
