import { useCallback, useEffect, useState } from "react";

import { audit } from "../api";
import { ErrorAlert, JsonView, formatTime } from "../components/common";
import type { AuditEvent, ChainReport } from "../types";

const PAGE = 100;

export function Audit() {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [report, setReport] = useState<ChainReport | null>(null);
  const [verifying, setVerifying] = useState(false);

  const load = useCallback(async (after: number) => {
    try {
      const page = await audit.list(after, PAGE);
      setEvents((old) => (after === 0 ? page : [...old, ...page]));
      setMore(page.length === PAGE);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    void load(0);
  }, [load]);

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

  return (
    <main>
      <div className="page-head">
        <h1>Audit log</h1>
        <button type="button" onClick={() => void verify()} disabled={verifying}>
          Verify chain
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
      <table className="audit" data-testid="audit-table">
        <thead>
          <tr>
            <th>Seq</th>
            <th>When</th>
            <th>Actor</th>
            <th>Action</th>
            <th>Target</th>
            <th>Detail</th>
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
        <button type="button" onClick={() => void load(events[events.length - 1]?.seq ?? 0)}>
          Load more
        </button>
      )}
    </main>
  );
}
