import { useState, type FormEvent } from "react";

import type { PolicyView } from "./types";

/** Runs one policy edit against the version on screen (409 if someone changed it meanwhile). */
export type Edit = (what: string, change: (version: number) => Promise<PolicyView>) => Promise<boolean>;

/** A form that asks the API one question: the answer, or the error that came instead. */
export function useAsk<T>(ask: () => Promise<T>) {
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

interface ConfirmProps {
  /** Visible text of the button that starts the action. */
  label: string;
  /** Accessible name of that button, when the label alone is ambiguous (e.g. "✕"). */
  name?: string;
  /** The question asked inline before anything happens. */
  prompt: string;
  confirmLabel?: string;
  className?: string;
  onConfirm: () => void;
}

/** A destructive action asked inline: "<prompt> Confirm / Cancel" (never window.confirm). */
export function ConfirmButton({ label, name, prompt, confirmLabel = "Confirm", className, onConfirm }: ConfirmProps) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className={className} aria-label={name} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="admin-confirm" role="group" aria-label={prompt}>
      <span>{prompt}</span>
      <button
        type="button"
        className="danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" autoFocus onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** Every interrupt type the admin may want a column for: inbox types and those already in the policy. */
export function interruptTypes(policy: PolicyView, inboxTypes: string[], extra: string[]): string[] {
  const found = new Set<string>(["any", ...inboxTypes, ...extra]);
  for (const role of Object.values(policy.roles)) {
    for (const p of role.permissions) if (p.object.startsWith("interrupt:")) found.add(p.object.slice("interrupt:".length));
  }
  const rest = [...found].filter((t) => t !== "any").sort();
  return ["any", ...rest];
}

/** The header row of an admin table: one column per name; "" is a column of row actions,
 * named for screen readers only. */
export function TableHead({ columns }: { columns: readonly string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((name, i) => (
          <th key={name || `actions-${i}`} scope="col">
            {name || <span className="visually-hidden">Actions</span>}
          </th>
        ))}
      </tr>
    </thead>
  );
}
