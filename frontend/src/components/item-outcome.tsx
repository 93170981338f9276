// After a decision: the run it resumed, as it streams (pending → running → how it ended), the
// outcome in plain words, and the way on: the next pending item (n) or back to the inbox (Esc).

import { useEffect, useState } from "react";

import { JsonView, isObject } from "./common";
import { KeyHint } from "./item-confirm";
import { followRun, TERMINAL, type RunProgress } from "../item-run";
import type { Run } from "../types";

function summary(progress: RunProgress): string {
  if (!TERMINAL.has(progress.status)) {
    return progress.status === "pending" ? "The agent will resume in a moment…" : "The agent is working on your decision…";
  }
  if (progress.status === "error" || progress.status === "timeout") {
    return `The agent failed after your decision${progress.error ? `: ${progress.error}` : "."}`;
  }
  if (progress.status === "interrupted") return "The run was cancelled before it finished.";
  if (!progress.done) return "The agent finished; reading its result…";
  if (progress.thread?.status === "interrupted") return "The agent paused again: it waits for another decision.";
  return "The agent finished.";
}

/** The thread's "outcome" (or "result", "status") value, when its state names one. */
function outcomeOf(progress: RunProgress): string | null {
  const values = progress.values;
  if (!isObject(values)) return null;
  for (const key of ["outcome", "result"]) {
    const value = values[key];
    if (typeof value === "string" && value) return value;
  }
  return null;
}

export function RunOutcome({
  run,
  next,
  nextState,
  back,
}: {
  run: Run;
  next: () => void;
  nextState: "idle" | "looking" | "none";
  back: () => void;
}) {
  const [progress, setProgress] = useState<RunProgress>(() => ({
    status: run.status,
    values: undefined,
    error: null,
    thread: null,
    done: false,
  }));
  useEffect(() => followRun(run, setProgress), [run]);

  const outcome = outcomeOf(progress);
  const ended = TERMINAL.has(progress.status);
  return (
    <section className="panel item-outcome" aria-labelledby="outcome-h" data-testid="outcome">
      <h2 id="outcome-h">Your decision was sent</h2>
      <p role="status" aria-live="polite">
        Resume run <span className="mono">{run.run_id}</span>:{" "}
        <span className={`badge item-run-${progress.status}`} data-testid="run-status">
          {progress.status}
        </span>
      </p>
      <p data-testid="outcome-summary">
        {summary(progress)}
        {outcome && ended && (
          <>
            {" "}
            Outcome: <strong data-testid="outcome-value">{outcome}</strong>.
          </>
        )}
      </p>
      {progress.done && progress.values !== undefined && (
        <details className="item-details">
          <summary>Final state</summary>
          <JsonView value={progress.values} label="Final state" />
        </details>
      )}
      <div className="actions">
        <button type="button" className="primary" onClick={next} disabled={nextState === "looking"} aria-keyshortcuts="n">
          Next item <KeyHint k="n" />
        </button>
        <button type="button" onClick={back} aria-keyshortcuts="Escape" data-testid="back-to-inbox">
          Back to inbox <KeyHint k="Esc" />
        </button>
      </div>
      {nextState === "none" && (
        <p className="muted" role="status" data-testid="no-next">
          Nothing else is waiting in the inbox.
        </p>
      )}
    </section>
  );
}
