import { useState, type FormEvent } from "react";

import { policies } from "./api";
import type { Edit } from "./admin-common";
import type { PolicyView } from "./types";

export const GRID_ACTIONS = ["decide", "edit"] as const;

interface Cell {
  role: string;
  type: string;
  action: string;
}

/** The scopes with which ``role`` holds ``action`` on ``object`` itself (not through a parent). */
function direct(policy: PolicyView, role: string, object: string, action: string): string[] {
  return (policy.roles[role]?.permissions ?? []).filter((p) => p.object === object && p.action === action).map((p) => p.scope);
}

/** The parent role that grants it, when ``role`` holds it only by inheritance. */
function inheritedFrom(policy: PolicyView, role: string, object: string, action: string, seen = new Set<string>()): string | null {
  seen.add(role);
  for (const parent of policy.roles[role]?.inherits ?? []) {
    if (seen.has(parent)) continue;
    if (direct(policy, parent, object, action).length > 0) return parent;
    const deeper = inheritedFrom(policy, parent, object, action, seen);
    if (deeper) return deeper;
  }
  return null;
}

/** Why ``role`` already holds ``action`` on ``type`` without a rule of its own, or null. */
function covered(policy: PolicyView, role: string, type: string, action: string): string | null {
  const parent = inheritedFrom(policy, role, `interrupt:${type}`, action);
  if (parent) return `inherited from ${parent}`;
  if (type === "any") return null;
  if (direct(policy, role, "interrupt:any", action).length > 0) return "covered by any";
  const anyParent = inheritedFrom(policy, role, "interrupt:any", action);
  return anyParent ? `covered by any, inherited from ${anyParent}` : null;
}

interface Props {
  policy: PolicyView;
  roleNames: string[];
  types: string[];
  edit: Edit;
  addType: (type: string) => void;
}

/** Rows are roles, columns interrupt types × actions; a box grants, unticking revokes after a confirmation. */
export function PermissionGrid({ policy, roleNames, types, edit, addType }: Props) {
  const [pending, setPending] = useState<Cell | null>(null);
  const [newType, setNewType] = useState("");

  const grant = ({ role, type, action }: Cell) =>
    void edit(`Granted ${action} on interrupt:${type} to ${role}`, (v) => policies.grant(role, `interrupt:${type}`, action, "any", v));

  const revoke = async ({ role, type, action }: Cell) => {
    setPending(null);
    const object = `interrupt:${type}`;
    for (const scope of direct(policy, role, object, action)) {
      if (!(await edit(`Revoked ${action} on ${object} from ${role}`, (v) => policies.revoke(role, object, action, scope, v)))) return;
    }
  };

  const add = (event: FormEvent) => {
    event.preventDefault();
    const type = newType.trim();
    if (type) addType(type);
    setNewType("");
  };

  return (
    <section aria-labelledby="grid-h">
      <h2 id="grid-h">Permissions</h2>
      <p className="hint">
        Who may decide (accept, respond, ignore) or edit each interrupt type. <code>any</code> covers every type. A greyed cell
        with a dot means the role already has it, through a parent role or <code>any</code> (hover for which).
      </p>
      {pending && (
        <div className="alert warn admin-confirm" role="group" aria-label="Confirm revoke" data-testid="grid-confirm">
          <span>
            Revoke {pending.action} on interrupt:{pending.type} from {pending.role}?
          </span>
          <button type="button" className="danger" onClick={() => void revoke(pending)}>
            Confirm
          </button>
          <button type="button" autoFocus onClick={() => setPending(null)}>
            Cancel
          </button>
        </div>
      )}
      <div className="admin-grid-wrap">
        <table className="admin-grid" data-testid="permission-grid">
          <caption className="visually-hidden">Interrupt permissions by role</caption>
          <thead>
            <tr>
              <th scope="col" rowSpan={2}>
                Role
              </th>
              {types.map((type) => (
                <th key={type} scope="colgroup" colSpan={GRID_ACTIONS.length} className="mono">
                  {type}
                </th>
              ))}
            </tr>
            <tr>
              {types.flatMap((type) =>
                GRID_ACTIONS.map((action) => (
                  <th key={`${type}/${action}`} scope="col" className="admin-grid-action">
                    {action}
                  </th>
                )),
              )}
            </tr>
          </thead>
          <tbody>
            {roleNames.map((role) => (
              <tr key={role} data-testid={`grid-row-${role}`}>
                <th scope="row" className="mono">
                  {role}
                </th>
                {types.flatMap((type) =>
                  GRID_ACTIONS.map((action) => {
                    const object = `interrupt:${type}`;
                    const scopes = direct(policy, role, object, action);
                    const via = scopes.length ? null : covered(policy, role, type, action);
                    const cell = { role, type, action };
                    const waiting = pending?.role === role && pending.type === type && pending.action === action;
                    return (
                      <td key={`${type}/${action}`} className={waiting ? "pending" : via ? "inherited" : undefined}>
                        <input
                          type="checkbox"
                          checked={scopes.length > 0}
                          aria-label={`${role} may ${action} ${type}`}
                          title={via ?? (scopes.includes("own") ? "own threads only" : undefined)}
                          onChange={(e) => (e.target.checked ? grant(cell) : setPending(cell))}
                        />
                        {via && (
                          <>
                            <span aria-hidden="true">•</span>
                            <span className="visually-hidden">{via}</span>
                          </>
                        )}
                        {scopes.length > 0 && !scopes.includes("any") && <small> own</small>}
                      </td>
                    );
                  }),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form className="inline" onSubmit={add} aria-label="Add an interrupt type column">
        <label>
          Interrupt type
          <input value={newType} onChange={(e) => setNewType(e.target.value)} required pattern="[A-Za-z0-9_.:\-]+" placeholder="wire_transfer" />
        </label>
        <button type="submit">Add column</button>
      </form>
    </section>
  );
}
