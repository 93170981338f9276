import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError, inbox } from "../api";
import { ErrorAlert } from "../components/common";
import { lookUpDecided, recentDecided, takeNoted } from "../inbox-decided";
import { DecidedList, InboxHead, InboxRow } from "../inbox-rows";
import { KeysHelp } from "../keys-help";
import { useTriageKeys } from "../keys-triage";
import { navigate } from "../router";
import { followStream, type StreamState } from "../sse";
import type { InboxCounts, InboxEvent, InboxItem, InboxItemDetail } from "../types";

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

/** Focuses the link of the row of ``id`` (its focus ring shows the selection). */
function focusRow(id: string): void {
  const row = document.querySelector(`[data-testid="inbox-item"][data-item-id="${CSS.escape(id)}"]`);
  row?.querySelector<HTMLElement>("a")?.focus();
}

/** The selected row, kept while an item page is shown, so triage goes on where it was. */
let lastSelected: string | null = null;

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
  const [selected, setSelectedState] = useState<string | null>(() => lastSelected);
  const [helpOpen, setHelpOpen] = useState(false);
  const [decided, setDecided] = useState<InboxItemDetail[]>(recentDecided);
  const setSelected = useCallback((id: string) => {
    lastSelected = id;
    setSelectedState(id);
  }, []);

  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const cursorRef = useRef(cursor);
  cursorRef.current = cursor;
  const rowsRef = useRef(rows);
  rowsRef.current = rows;
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

  const showDecided = useCallback(async (id: string) => {
    const list = await lookUpDecided(id);
    if (list) setDecided(list);
  }, []);

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
        else if (GONE.has(name)) {
          // a row this reviewer saw moves to "Recently decided", with who decided it
          if (rowsRef.current.some((r) => r.item.id === data.id)) void showDecided(data.id);
          setRows((old) => old.filter((r) => r.item.id !== data.id));
        }
        void loadCounts();
      },
    });
  }, [reload, loadCounts, showDecided]);

  // Items decided on their page (or elsewhere) while the inbox was not shown.
  useEffect(() => {
    for (const id of takeNoted()) void showDecided(id);
  }, [showDecided]);

  useTriageKeys({
    ids: rows.map((r) => r.item.id),
    selected,
    helpOpen,
    select: (id) => {
      setSelected(id);
      focusRow(id);
    },
    open: (id) => navigate(`items/${id}`),
    toggleHelp: () => setHelpOpen((o) => !o),
  });

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
        <span className="head-tools">
          <button type="button" className="link" onClick={() => setHelpOpen(true)} aria-keyshortcuts="?">
            Keyboard shortcuts <kbd>?</kbd>
          </button>
          <span className={`live ${stream}`} data-testid="live-status" title={streamError?.detail}>
            {STREAM_LABEL[stream]}
          </span>
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
        <>
          <InboxHead />
          <ul className="inbox-list" aria-label="Pending interrupts">
            {rows.map(({ item, fetchedAt }) => (
              <InboxRow
                key={item.id}
                item={item}
                ageSeconds={item.age_seconds + (now - fetchedAt) / 1000}
                selected={item.id === selected}
                onSelect={setSelected}
              />
            ))}
          </ul>
        </>
      )}
      {loading && <p className="muted">Loading…</p>}
      {cursor && !loading && (
        <button type="button" onClick={() => void loadMore()} data-testid="load-more">
          Load more
        </button>
      )}
      <DecidedList items={decided} now={now} />
      <KeysHelp open={helpOpen} onClose={() => setHelpOpen(false)} />
    </main>
  );
}
