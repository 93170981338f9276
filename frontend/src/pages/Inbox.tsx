import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError, inbox } from "../api";
import { ErrorAlert, Link, formatAge, formatTime } from "../components/common";
import { followStream, type StreamState } from "../sse";
import type { InboxCounts, InboxEvent, InboxItem } from "../types";

type Order = "asc" | "desc";

interface Filters {
  type: string;
  decidable: boolean;
  order: Order;
}

interface Row {
  item: InboxItem;
  fetchedAt: number;
}

const PAGE = 25;
const GONE = new Set(["interrupt.resolved", "interrupt.expired", "interrupt.cancelled"]);

function matches(item: InboxItem, filters: Filters): boolean {
  if (item.status !== "pending") return false;
  if (filters.type && item.type !== filters.type) return false;
  return !filters.decidable || item.can_decide;
}

/** One page of the inbox for ``filters``, after ``cursor`` when given. */
function fetchPage(filters: Filters, cursor?: string) {
  return inbox.list({
    type: filters.type || undefined,
    decidable: filters.decidable,
    order: filters.order,
    limit: PAGE,
    ...(cursor ? { cursor } : {}),
  });
}

function actionOf(item: InboxItem): string | null {
  const value = Array.isArray(item.value) ? item.value[0] : item.value;
  if (item.agent_inbox && value && typeof value === "object" && !Array.isArray(value)) {
    const request = value["action_request"];
    if (request && typeof request === "object" && !Array.isArray(request)) {
      const action = request["action"];
      return typeof action === "string" ? action : null;
    }
  }
  return null;
}

const STREAM_LABEL: Record<StreamState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  stopped: "Not live",
};

export function Inbox({ flash, onDismissFlash }: { flash: string | null; onDismissFlash: () => void }) {
  const [filters, setFilters] = useState<Filters>({ type: "", decidable: false, order: "asc" });
  const [rows, setRows] = useState<Row[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [counts, setCounts] = useState<InboxCounts | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [stream, setStream] = useState<StreamState>("connecting");
  const [streamError, setStreamError] = useState<ApiError | null>(null);
  const [now, setNow] = useState(() => Date.now());

  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const cursorRef = useRef(cursor);
  cursorRef.current = cursor;
  const generation = useRef(0);

  const loadCounts = useCallback(async () => {
    try {
      setCounts(await inbox.counts(filtersRef.current.decidable));
    } catch {
      // the list shows the error
    }
  }, []);

  /** (Re)loads the first page for the current filters; stale answers are dropped. */
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const page = await fetchPage(filtersRef.current);
      if (mine !== generation.current) return;
      const at = Date.now();
      setRows(page.items.map((item) => ({ item, fetchedAt: at })));
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      if (mine === generation.current) setError(e);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
    void loadCounts();
  }, [loadCounts]);

  const loadMore = async () => {
    if (!cursor) return;
    const mine = generation.current;
    setLoading(true);
    try {
      const page = await fetchPage(filtersRef.current, cursor);
      if (mine !== generation.current) return;
      const at = Date.now();
      setRows((old) => {
        const seen = new Set(old.map((r) => r.item.id));
        return [...old, ...page.items.filter((i) => !seen.has(i.id)).map((item) => ({ item, fetchedAt: at }))];
      });
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void reload();
  }, [filters, reload]);

  // Live updates: new interrupts appear, decided/expired/cancelled ones disappear.
  useEffect(() => {
    const appeared = async (id: string) => {
      try {
        const item = await inbox.item(id);
        if (!matches(item, filtersRef.current)) return;
        const row: Row = { item, fetchedAt: Date.now() };
        setRows((old) => {
          if (old.some((r) => r.item.id === id)) return old;
          if (filtersRef.current.order === "desc") return [row, ...old];
          // oldest first: the newest belongs at the end, unless more pages come before it
          return cursorRef.current ? old : [...old, row];
        });
      } catch {
        // gone again, or not visible to this reviewer
      }
    };
    let opened = false;
    return followStream({
      path: "/inbox/stream",
      onState: (state, err) => {
        setStream(state);
        setStreamError(err ?? null);
      },
      onOpen: () => {
        // something may have happened while we were not listening
        if (opened) void reload();
        opened = true;
      },
      onEvent: (event) => {
        let data: InboxEvent;
        try {
          data = JSON.parse(event.data) as InboxEvent;
        } catch {
          return;
        }
        const name = data.event || event.event;
        if (name === "interrupt.created") void appeared(data.id);
        else if (GONE.has(name)) setRows((old) => old.filter((r) => r.item.id !== data.id));
        void loadCounts();
      },
    });
  }, [reload, loadCounts]);

  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 5000);
    return () => window.clearInterval(timer);
  }, []);

  const types = Object.keys(counts?.by_type ?? {}).sort();
  if (filters.type && !types.includes(filters.type)) types.push(filters.type);

  return (
    <main>
      <div className="page-head">
        <h1>Inbox</h1>
        <span className={`live ${stream}`} data-testid="live-status" title={streamError?.detail}>
          {STREAM_LABEL[stream]}
        </span>
      </div>
      {flash && (
        <div className="alert success" role="status" data-testid="flash">
          {flash}{" "}
          <button type="button" className="link" onClick={onDismissFlash}>
            Dismiss
          </button>
        </div>
      )}
      {streamError && stream === "stopped" && (
        <div className="alert warn" role="alert">
          Live updates are off: {streamError.detail}
        </div>
      )}

      <section className="counts" aria-label="Pending by type" data-testid="counts">
        <strong data-testid="count-total">{counts ? counts.total : "…"} pending</strong>
        {counts &&
          Object.entries(counts.by_type)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([type, n]) => (
              <button
                key={type}
                type="button"
                className={`chip${filters.type === type ? " active" : ""}`}
                data-testid={`count-${type}`}
                aria-pressed={filters.type === type}
                onClick={() => setFilters((f) => ({ ...f, type: f.type === type ? "" : type }))}
              >
                {type}: {n}
              </button>
            ))}
      </section>

      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Type
          <select value={filters.type} onChange={(e) => setFilters((f) => ({ ...f, type: e.target.value }))}>
            <option value="">All types</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={filters.decidable}
            onChange={(e) => setFilters((f) => ({ ...f, decidable: e.target.checked }))}
          />
          Decidable by me
        </label>
        <label>
          Order
          <select
            value={filters.order}
            onChange={(e) => setFilters((f) => ({ ...f, order: e.target.value === "desc" ? "desc" : "asc" }))}
          >
            <option value="asc">Oldest first</option>
            <option value="desc">Newest first</option>
          </select>
        </label>
        <button type="button" onClick={() => void reload()}>
          Refresh
        </button>
      </form>

      <ErrorAlert error={error} />

      {rows.length === 0 && !loading && !error ? (
        <p className="empty" data-testid="inbox-empty">
          Nothing is waiting for a decision.
        </p>
      ) : (
        <table className="inbox" aria-label="Pending interrupts">
          <thead>
            <tr>
              <th>Type</th>
              <th>Description</th>
              <th>Thread</th>
              <th>Waiting</th>
              <th>You</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ item, fetchedAt }) => (
              <tr key={item.id} data-testid="inbox-item" data-item-id={item.id}>
                <td>
                  <Link to={`items/${item.id}`}>{actionOf(item) ?? item.type}</Link>
                  <div className="muted">{item.graph_id}</div>
                </td>
                <td>{item.description ?? <span className="muted">(no description)</span>}</td>
                <td className="mono">{item.thread_id}</td>
                <td title={formatTime(item.created_at)} data-testid="age">
                  {formatAge(item.age_seconds + (now - fetchedAt) / 1000)}
                </td>
                <td>{item.can_decide ? <span className="badge ok">can decide</span> : <span className="badge">view only</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {loading && <p className="muted">Loading…</p>}
      {cursor && !loading && (
        <button type="button" onClick={() => void loadMore()} data-testid="load-more">
          Load more
        </button>
      )}
    </main>
  );
}
