import { useState, type FormEvent } from "react";

import { policies } from "./api";
import { ConfirmButton, type Edit, TableHead } from "./admin-common";
import type { PolicyView } from "./types";

/** Members: each user and their roles; add a role, remove one after an inline confirmation. */
export function Members({ policy, roleNames, edit }: { policy: PolicyView; roleNames: string[]; edit: Edit }) {
  const [user, setUser] = useState("");
  const [role, setRole] = useState(roleNames.includes("reviewer") ? "reviewer" : (roleNames[0] ?? ""));
  const [filter, setFilter] = useState("");

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const who = user.trim();
    void edit(`Gave ${who} the role ${role}`, (v) => policies.assignRole(who, role, v)).then((ok) => ok && setUser(""));
  };
  const needle = filter.trim().toLowerCase();
  const members = Object.entries(policy.members).filter(([member]) => member.toLowerCase().includes(needle));

  return (
    <section aria-labelledby="members-h">
      <h2 id="members-h">Members</h2>
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
      <label className="admin-filter">
        Find a member <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
      </label>
      <table data-testid="members" className="admin-table">
        <TableHead columns={["User", "Roles", "Add a role"]} />
        <tbody>
          {members.map(([member, roles]) => (
            <tr key={member} data-testid={`member-${member}`}>
              <th scope="row" className="mono">
                {member}
              </th>
              <td>
                {roles.map((r) => (
                  <span key={r} className="chip" data-testid={`member-role-${r}`}>
                    {r}{" "}
                    <ConfirmButton
                      label="✕"
                      className="link"
                      name={`Remove role ${r} from ${member}`}
                      prompt={`Remove role ${r} from ${member}?`}
                      onConfirm={() => void edit(`Removed ${r} from ${member}`, (v) => policies.revokeRole(member, r, v))}
                    />
                  </span>
                ))}
              </td>
              <td>
                <AddRole member={member} roles={roleNames.filter((r) => !roles.includes(r))} edit={edit} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {members.length === 0 && <p className="muted">No member matches.</p>}
    </section>
  );
}

function AddRole({ member, roles, edit }: { member: string; roles: string[]; edit: Edit }) {
  const [role, setRole] = useState("");
  if (roles.length === 0) return <span className="muted">has every role</span>;
  return (
    <select
      value={role}
      aria-label={`Add a role to ${member}`}
      onChange={(e) => {
        const chosen = e.target.value;
        setRole("");
        if (chosen) void edit(`Gave ${member} the role ${chosen}`, (v) => policies.assignRole(member, chosen, v));
      }}
    >
      <option value="">add…</option>
      {roles.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}
