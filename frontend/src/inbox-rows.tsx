// The rows of the inbox: each one link to its item (the link covers the whole row), saying what
// is asked, its key args and amount, the thread, and when. Plus the items decided meanwhile.

import { Link, formatAgo, formatClock, formatTime } from "./components/common";
import { shortThread, summarize } from "./inbox-summary";
import type { InboxItem, InboxItemDetail } from "./types";

function Ask({ item, idPrefix }: { item: InboxItem; idPrefix: string }) {
  const s = summarize(item);
  const askId = `${idPrefix}-${item.id}`;
  return (
    <div className="what">
      <Link to={`items/${item.id}`} className="row-link" describedBy={askId}>
        {s.title}
      </Link>{" "}
      {s.amount && (
        <span className="amount" data-testid="amount">
          {s.amount}
        </span>
      )}{" "}
      <span className="muted">{item.graph_id}</span>
      {s.text ? (
        <p className="ask" data-testid="ask" id={askId}>
          {s.text}
        </p>
      ) : (
        <p className="ask muted" id={askId}>
          (no description)
        </p>
      )}
      {s.args && (
        <p className="key-args mono" data-testid="key-args">
          {s.args}
        </p>
      )}
    </div>
  );
}

function Thread({ id }: { id: string }) {
  return (
    <span className="thread mono" title={id} data-testid="thread">
      {shortThread(id)}
    </span>
  );
}

function When({ iso, ageSeconds, label }: { iso: string; ageSeconds: number; label?: string }) {
  return (
    <span className="when">
      {label && <span>{label} </span>}
      <time dateTime={iso} title={formatTime(iso)} data-testid="created">
        {formatClock(iso)}
      </time>{" "}
      <span className="muted" data-testid="age">
        {formatAgo(ageSeconds)}
      </span>
    </span>
  );
}

interface RowProps {
  item: InboxItem;
  ageSeconds: number;
  selected: boolean;
  onSelect: (id: string) => void;
}

export function InboxRow({ item, ageSeconds, selected, onSelect }: RowProps) {
  return (
    <li
      className={`inbox-row${selected ? " selected" : ""}`}
      data-testid="inbox-item"
      data-item-id={item.id}
      aria-current={selected ? "true" : undefined}
      onFocus={() => onSelect(item.id)}
    >
      <Ask item={item} idPrefix="ask" />
      <Thread id={item.thread_id} />
      <When iso={item.created_at} ageSeconds={ageSeconds} />
      <span className="you">
        {item.can_decide ? <span className="badge ok">can decide</span> : <span className="badge">view only</span>}
      </span>
    </li>
  );
}

export function InboxHead() {
  return (
    <div className="inbox-head" aria-hidden="true">
      <span>Request</span>
      <span>Thread</span>
      <span>Created</span>
      <span>You</span>
    </div>
  );
}

function outcome(item: InboxItemDetail): string {
  const by = item.resolution?.resolved_by;
  if (item.status === "resolved") return by ? `Decided by ${by}` : "Decided";
  return by ? `${item.status[0]?.toUpperCase()}${item.status.slice(1)} by ${by}` : item.status;
}

export function DecidedList({ items, now }: { items: InboxItemDetail[]; now: number }) {
  if (items.length === 0) return null;
  return (
    <section className="decided" aria-labelledby="decided-title">
      <h2 id="decided-title">Recently decided</h2>
      <ul className="inbox-list">
        {items.map((item) => {
          const at = item.resolution?.resolved_at ?? item.created_at;
          return (
            <li key={item.id} className="inbox-row done" data-testid="decided-item" data-decided-id={item.id}>
              <Ask item={item} idPrefix="decided-ask" />
              <Thread id={item.thread_id} />
              <When iso={at} ageSeconds={(now - new Date(at).getTime()) / 1000} label={outcome(item)} />
              <span className="you">
                <span className={`badge status-${item.status}`}>{item.status}</span>
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
