import { useCallback, useEffect, useState, type FormEvent } from "react";

import "../admin.css";
import { audit, auditSearch, type AuditFilter } from "../api";
import { ErrorAlert, JsonView, formatTime } from "../components/common";
import type { AuditEvent, ChainReport } from "../types";

const PAGE = 100;

interface Filters {
  action: string;
  targetType: string;
  targetId: string;
  actor: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { action: "", targetType: "", targetId: "", actor: "", from: "", to: "" };

/** The day after an ISO date (YYYY-MM-DD), for an inclusive "to" day. */
function nextDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString();
}

/** Every filter is the server's (days are UTC). */
function serverFilter(f: Filters): AuditFilter {
  const actor = f.actor.trim();
  return {
    ...(f.action.trim() ? { action: f.action.trim() } : {}),
    ...(f.targetType.trim() ? { target_type: f.targetType.trim() } : {}),
    ...(f.targetId.trim() ? { target_id: f.targetId.trim() } : {}),
    ...(actor ? { actor } : {}),
    ...(f.from ? { since: `${f.from}T00:00:00Z` } : {}),
    ...(f.to ? { until: nextDay(f.to) } : {}),
  };
}

export function Audit() {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [report, setReport] = useState<ChainReport | null>(null);
  const [verifying, setVerifying] = useState(false);
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [actions, setActions] = useState<string[]>([]);

  const load = useCallback(async (after: number, filters: Filters) => {
    try {
      const page = await auditSearch(after, PAGE, serverFilter(filters));
      setEvents((old) => (after === 0 ? page : [...old, ...page]));
      setActions((old) => [...new Set([...old, ...page.map((e) => e.action)])].sort());
      setMore(page.length === PAGE);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    void load(0, applied);
  }, [load, applied]);

  const verify = async () => {
    setVerifying(true);
    setReport(null);
    try {
      setReport(await audit.verify());
    } catch (e) {
      setError(e);
    } finally {
      setVerifying(false);
    }
  };

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setApplied({ ...draft });
  };
  const set = (key: keyof Filters) => (e: { target: { value: string } }) => setDraft((old) => ({ ...old, [key]: e.target.value }));

  const filtered = Object.values(applied).some((v) => v.trim() !== "");

  return (
    <main>
      <div className="page-head">
        <h1>Audit log</h1>
        <button type="button" onClick={() => void verify()} disabled={verifying}>
          {verifying ? "Verifying…" : "Verify chain"}
        </button>
      </div>
      <ErrorAlert error={error} testId="audit-error" />
      {report && (
        <div className={`alert ${report.ok ? "success" : "error"}`} role={report.ok ? "status" : "alert"} data-testid="chain-report">
          {report.ok
            ? `Chain intact: ${report.checked} events checked (head seq ${report.head_seq}).`
            : `Chain broken at seq ${report.first_bad_seq ?? "?"}: ${report.reason ?? "unknown reason"}.`}
        </div>
      )}
      <form className="audit-filters" onSubmit={apply} aria-label="Filter the audit log">
        <label>
          Action
          <input value={draft.action} onChange={set("action")} list="audit-actions" placeholder="policy.grant" />
        </label>
        <datalist id="audit-actions">
          {actions.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        <label>
          Actor
          <input value={draft.actor} onChange={set("actor")} />
        </label>
        <label>
          Target type
          <input value={draft.targetType} onChange={set("targetType")} placeholder="policy" />
        </label>
        <label>
          Target id
          <input value={draft.targetId} onChange={set("targetId")} />
        </label>
        <label>
          From (UTC)
          <input type="date" value={draft.from} onChange={set("from")} />
        </label>
        <label>
          To (UTC)
          <input type="date" value={draft.to} onChange={set("to")} />
        </label>
        <button type="submit">Apply filters</button>
        {filtered && (
          <button
            type="button"
            onClick={() => {
              setDraft(EMPTY);
              setApplied(EMPTY);
            }}
          >
            Clear
          </button>
        )}
      </form>
      <p className="muted" data-testid="audit-count" aria-live="polite">
        {events.length} event{events.length === 1 ? "" : "s"} shown
        {filtered && " (filtered)"}
      </p>
      <table className="audit" data-testid="audit-table">
        <thead>
          <tr>
            <th scope="col">Seq</th>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id} data-testid="audit-event">
              <td>{e.seq}</td>
              <td>{formatTime(e.created_at)}</td>
              <td className="mono">{e.actor}</td>
              <td>{e.action}</td>
              <td className="mono">
                {e.target_type} {e.target_id}
              </td>
              <td>
                <details>
                  <summary>details</summary>
                  <JsonView value={{ detail: e.detail, payload_hash: e.payload_hash, request_id: e.request_id, hash: e.hash }} />
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {more && (
        <button type="button" onClick={() => void load(events[events.length - 1]?.seq ?? 0, applied)}>
          Load more
        </button>
      )}
    </main>
  );
}
