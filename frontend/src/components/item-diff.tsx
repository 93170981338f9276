import type { Json, JsonObject } from "../types";

function show(value: Json | undefined): string {
  if (value === undefined) return "(none)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The keys whose value an edit changed (added and removed keys included). */
export function changedKeys(before: JsonObject, after: JsonObject): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

/**
 * Before/after of edited args, field by field: a changed field is highlighted, its old value
 * struck through next to the new one; an unchanged field shows its value once.
 */
export function ArgsDiff({ before, after, label }: { before: JsonObject; after: JsonObject; label: string }) {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const changed = new Set(changedKeys(before, after));
  return (
    <div className="item-diff">
      <p className="muted" data-testid="diff-summary" role="status">
        {changed.size === 0
          ? "No change yet."
          : `${changed.size} of ${keys.length} argument${keys.length === 1 ? "" : "s"} changed.`}
      </p>
      <table className="args diff" aria-label={label} data-testid="diff">
        <thead>
          <tr>
            <th scope="col">argument</th>
            <th scope="col">before</th>
            <th scope="col">after</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) =>
            changed.has(key) ? (
              <tr key={key} className="item-changed" data-testid="diff-changed">
                <th scope="row">{key}</th>
                <td className="mono">
                  <del className="item-old">{show(before[key])}</del>
                </td>
                <td className="mono">
                  <ins className="item-new">{show(after[key])}</ins>
                </td>
              </tr>
            ) : (
              <tr key={key} className="item-same">
                <th scope="row">{key}</th>
                <td className="mono muted" colSpan={2}>
                  {show(before[key])} <span className="item-unchanged">(unchanged)</span>
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}
