import { useEffect, useState } from "react";

import { policies } from "./api";
import { ConfirmButton, type Edit, TableHead } from "./admin-common";
import { ErrorAlert, JsonView, formatTime } from "./components/common";
import type { Json, PolicyChange } from "./types";

/** A version's rules as display lines (the API stores each version's full rule list). */
function ruleLines(rules: Json): string[] {
  if (!Array.isArray(rules)) return [];
  return rules.map((rule) => (Array.isArray(rule) ? rule.map(String).join(", ") : JSON.stringify(rule)));
}

export interface RuleDiff {
  added: string[];
  removed: string[];
}

/** What changed from ``older`` to ``newer``: rules only in newer (added) and only in older (removed). */
export function diffRules(older: string[], newer: string[]): RuleDiff {
  const before = new Set(older);
  const after = new Set(newer);
  return { added: newer.filter((r) => !before.has(r)), removed: older.filter((r) => !after.has(r)) };
}

interface Props {
  history: PolicyChange[];
  current: number;
  edit: Edit;
}

/** Versions of the policy, each comparable with the current one and restorable (after a confirmation). */
export function History({ history, current, edit }: Props) {
  const [compare, setCompare] = useState<number | null>(null);
  const [currentRules, setCurrentRules] = useState<string[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    policies
      .export()
      .then((exported) => live && setCurrentRules(exported.rules.map((r) => r.join(", "))))
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [current]);

  const chosen = history.find((c) => c.version === compare) ?? null;
  const diff = chosen && currentRules ? diffRules(ruleLines(chosen.rules), currentRules) : null;

  return (
    <section aria-labelledby="hist-h">
      <h2 id="hist-h">History</h2>
      <ErrorAlert error={error} />
      <table data-testid="history-table" className="admin-table">
        <TableHead columns={["Version", "When", "Who", "What", ""]} />
        <tbody>
          {history.map((change) => (
            <tr key={change.version} data-testid={`version-${change.version}`} className={change.version === compare ? "selected" : undefined}>
              <td className="nowrap">
                v{change.version} {change.version === current && <span className="badge">current</span>}
              </td>
              <td>{formatTime(change.created_at)}</td>
              <td className="mono">{change.actor}</td>
              <td>
                <details>
                  <summary>{change.action}</summary>
                  <JsonView value={change.detail} />
                </details>
              </td>
              <td>
                {change.version !== current && (
                  <div className="admin-row-actions">
                    <button type="button" aria-pressed={change.version === compare} onClick={() => setCompare(change.version === compare ? null : change.version)}>
                      Compare v{change.version} with current
                    </button>
                    <ConfirmButton
                      label={`Roll back to v${change.version}`}
                      prompt={`Restore the rules of version ${change.version}? This saves them as a new version.`}
                      confirmLabel="Roll back"
                      onConfirm={() => {
                        setCompare(null);
                        void edit(`Rolled back to version ${change.version}`, (v) => policies.rollback(change.version, v));
                      }}
                    />
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {chosen && diff && (
        <div className="admin-diff" data-testid="policy-diff" aria-label={`Changes from version ${chosen.version} to the current version`} role="region">
          <h3>
            From v{chosen.version} to current (v{current})
          </h3>
          {diff.added.length === 0 && diff.removed.length === 0 ? (
            <p className="muted">Same rules.</p>
          ) : (
            <ul className="mono">
              {diff.added.map((r) => (
                <li key={`+${r}`} className="diff-added" data-testid="diff-added">
                  <span aria-label="added">+</span> {r}
                </li>
              ))}
              {diff.removed.map((r) => (
                <li key={`-${r}`} className="diff-removed" data-testid="diff-removed">
                  <span aria-label="removed">−</span> {r}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
