import { useCallback, useEffect, useRef, useState, type MouseEvent } from "react";

import { ApiError, inbox } from "../api";
import { ArgsTable, ErrorAlert, describeError, formatAge, formatTime, newKey } from "../components/common";
import { AgentInboxActions, RawAnswer } from "../components/item-decide";
import { ItemDetails, RawAsk, decisionSummary, humanInterrupt } from "../components/item-details";
import { RunOutcome } from "../components/item-outcome";
import { ToolCalls, ToolReview } from "../components/ToolReview";
import { noteDecided } from "../inbox-decided";
import { useKeys } from "../item-keys";
import { href, navigate } from "../router";
import { followStream, type StreamState } from "../sse";
import type { DecisionAccepted, InboxEvent, InboxItemDetail, Json, Run } from "../types";
import "../item.css";

const GONE = new Set(["interrupt.resolved", "interrupt.expired", "interrupt.cancelled"]);

function conflictMessage(error: ApiError): string {
  switch (error.code) {
    case "already_decided":
    case "nothing_pending":
      return "Someone else decided this first. The item below shows what was decided.";
    case "stale_decision":
      return "The request changed since you opened it — reload and review it again before deciding.";
    case "thread_busy":
      return "The agent is busy on this thread right now; try again in a moment.";
    default:
      return `Conflict: ${error.detail}`;
  }
}

/** What happened to the item while the page showed it, in plain words. */
function liveMessage(item: InboxItemDetail | null, event: string): string {
  if (event === "interrupt.expired") return "This item expired while you had it open.";
  if (event === "interrupt.cancelled") return "This item was cancelled while you had it open (the run moved on).";
  const resolution = item?.resolution;
  if (!resolution) return "Someone just decided this item.";
  return `Decided by ${resolution.resolved_by ?? "the system"} while you had it open: ${decisionSummary(resolution.decision)}.`;
}

interface Props {
  id: string;
  onDecided: (message: string) => void;
}

interface Sent {
  run: Run;
  message: string;
}

export function ItemView({ id, onDecided }: Props) {
  const [item, setItem] = useState<InboxItemDetail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [sendError, setSendError] = useState<unknown>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [sent, setSent] = useState<Sent | null>(null);
  const [liveEvent, setLiveEvent] = useState<string | null>(null);
  const [nextState, setNextState] = useState<"idle" | "looking" | "none">("idle");
  const [stream, setStream] = useState<StreamState>("connecting");
  const sentRef = useRef(false); // this page sent a decision: its own events are no news
  const seenPending = useRef(false);

  const load = useCallback(async () => {
    try {
      const fresh = await inbox.item(id);
      if (fresh.status === "pending") seenPending.current = true;
      else if (seenPending.current && !sentRef.current) setLiveEvent(`interrupt.${fresh.status}`);
      setItem(fresh);
      setLoadError(null);
    } catch (e) {
      setItem(null);
      setLoadError(e);
    }
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  // Live: when this item is decided (or expires) elsewhere, show it at once.
  useEffect(() => {
    return followStream({
      path: "/inbox/stream",
      onState: (state) => setStream(state),
      // something may have happened before we listened: look again
      onOpen: () => void load(),
      onEvent: (event) => {
        let data: InboxEvent;
        try {
          data = JSON.parse(event.data) as InboxEvent;
        } catch {
          return;
        }
        const name = data.event || event.event;
        if (data.id !== id || !GONE.has(name)) return;
        if (!sentRef.current) setLiveEvent(name);
        void load();
      },
    });
  }, [id, load]);

  const back = () => {
    if (sent) onDecided(sent.message);
    else navigate("");
  };

  const goNext = async () => {
    if (sent) noteDecided(id); // the inbox lists it under "recently decided", as Back would
    setNextState("looking");
    try {
      const page = await inbox.list({ order: "asc", limit: 50 });
      const others = page.items.filter((i) => i.id !== id && i.status === "pending");
      const next = others.find((i) => i.can_decide) ?? others[0];
      if (next) navigate(`items/${next.id}`);
      else setNextState("none");
    } catch {
      setNextState("none");
    }
  };

  useKeys({ n: () => void goNext(), Escape: back });

  const send = async (decision: Json) => {
    if (!item) return;
    setSending(true);
    setSendError(null);
    setConflict(null);
    // one key per click: a retried network request replays the first answer
    const key = newKey();
    try {
      const wrapped: Json = Array.isArray(item.value) && item.agent_inbox ? [decision] : decision;
      sentRef.current = true;
      const accepted: DecisionAccepted = await inbox.decide(item.id, wrapped, item.payload_hash, key);
      setSent({
        run: accepted.run,
        message: `Decision sent: ${item.type} on ${item.thread_id}. Resume run ${accepted.run.run_id} is ${accepted.run.status}.`,
      });
      void load();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        // "decided first" says it all: no "decided while you had it open" notice as well
        if (e.code !== "already_decided" && e.code !== "nothing_pending") sentRef.current = false;
        setConflict(conflictMessage(e));
        await load();
      } else {
        sentRef.current = false;
        setSendError(e);
      }
    } finally {
      setSending(false);
    }
  };

  const backLink = (
    <p>
      <a
        href={href("")}
        onClick={(event: MouseEvent<HTMLAnchorElement>) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
          event.preventDefault();
          back();
        }}
      >
        ← Inbox
      </a>{" "}
      <span className="muted item-keys-hint">
        Keys: <kbd className="item-kbd">a</kbd> accept, <kbd className="item-kbd">e</kbd> edit,{" "}
        <kbd className="item-kbd">r</kbd> respond, <kbd className="item-kbd">i</kbd> ignore,{" "}
        <kbd className="item-kbd">n</kbd> next item, <kbd className="item-kbd">Esc</kbd> inbox
      </span>
    </p>
  );

  if (loadError) {
    return (
      <main>
        {backLink}
        <ErrorAlert error={loadError} testId="item-error" />
      </main>
    );
  }
  if (!item) return <main className="muted">Loading…</main>;

  const human = humanInterrupt(item);
  const closed = liveEvent !== null && !sent;
  const tools = item.kind === "hitl_request" || item.kind === "tool_approval";
  const reviewing = tools && item.status === "pending" && item.can_decide && !sent; // the review shows every call
  const busy = sending || closed || sent !== null;

  return (
    <main className="item-page">
      {backLink}
      <div className="page-head">
        <h1 data-testid="item-title">{human ? human.action_request.action : item.type}</h1>
        <span className="item-head-badges">
          <span className={`badge item-stream-${stream}`} data-testid="item-live" title="Live updates of this item">
            {stream === "live" ? "Live" : stream === "stopped" ? "Not live" : "Connecting…"}
          </span>{" "}
          <span className={`badge status-${item.status}`} data-testid="item-status">
            {item.status}
          </span>
        </span>
      </div>
      {liveEvent && !sent && (
        <div className="alert warn" role="alert" data-testid="live-decided">
          {liveMessage(item, liveEvent)} The decision controls are off.
        </div>
      )}
      {conflict && (
        <div className="alert error" role="alert" data-testid="conflict">
          {conflict}
        </div>
      )}
      {sent && <RunOutcome run={sent.run} next={() => void goNext()} nextState={nextState} back={back} />}

      <dl className="facts">
        <dt>{human || tools ? "Description" : "Question"}</dt>
        <dd data-testid="item-description">{item.description ?? "(none)"}</dd>
        <dt>Agent</dt>
        <dd>{item.graph_id}</dd>
        <dt>Waiting</dt>
        <dd title={formatTime(item.created_at)}>{formatAge(item.age_seconds)}</dd>
        {item.expires_at && (
          <>
            <dt>Expires</dt>
            <dd>{formatTime(item.expires_at)}</dd>
          </>
        )}
      </dl>

      {human ? (
        <section aria-labelledby="args-h">
          <h2 id="args-h">Arguments</h2>
          <ArgsTable args={human.action_request.args} />
        </section>
      ) : tools ? (
        !reviewing && (
          <section aria-labelledby="calls-h">
            <h2 id="calls-h">Tool calls</h2>
            <ToolCalls actions={item.actions} />
          </section>
        )
      ) : (
        <section aria-labelledby="value-h">
          <h2 id="value-h">What the agent asks</h2>
          <RawAsk value={item.value} />
        </section>
      )}

      {item.resolution && (
        <section className="resolution" aria-labelledby="res-h" data-testid="resolution">
          <h2 id="res-h">Decided</h2>
          <p>
            {item.resolution.status} by <strong>{item.resolution.resolved_by ?? "the system"}</strong>{" "}
            {formatTime(item.resolution.resolved_at)}: {decisionSummary(item.resolution.decision)}
          </p>
        </section>
      )}

      {item.status === "pending" && !sent && (
        <section aria-labelledby="decide-h" className="decide">
          <h2 id="decide-h">Decide</h2>
          {!item.can_decide ? (
            <p className="alert info" role="status" data-testid="cannot-decide">
              You can see this item, but your role does not allow you to decide it.
            </p>
          ) : (
            <fieldset className="item-controls" disabled={closed}>
              <legend className="item-sr">Decision controls</legend>
              {human ? (
                <AgentInboxActions item={item} human={human} sending={busy} send={send} />
              ) : tools ? (
                <ToolReview item={item} sending={busy} send={send} />
              ) : (
                <RawAnswer sending={busy} send={send} />
              )}
            </fieldset>
          )}
          {sendError !== null && (
            <div className="alert error" role="alert" data-testid="decision-error">
              {describeError(sendError)}
            </div>
          )}
        </section>
      )}

      <ItemDetails item={item} />
    </main>
  );
}
