// Server-sent events over fetch: EventSource cannot send an Authorization header, so the UI
// reads the stream itself, parses events, and reconnects with Last-Event-ID after a drop.

import { ApiError, authHeaders, errorFromResponse, getToken } from "./api";

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Incremental text/event-stream parser (WHATWG rules: LF, CRLF or CR line ends; comments). */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | null = null;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return null;
      }
      const event = { id: this.id, event: this.event || "message", data: this.data.join("\n") };
      this.data = [];
      this.event = "";
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}

export type StreamState = "connecting" | "live" | "reconnecting" | "stopped";

export interface StreamOptions {
  path: string;
  onEvent: (event: SseEvent) => void;
  /** Every (re)connection: a good moment to reload what may have been missed. */
  onOpen?: () => void;
  onState: (state: StreamState, error?: ApiError) => void;
  maxDelayMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      window.clearTimeout(timer);
      resolve();
    });
  });
}

/** Follows an SSE endpoint until the returned function is called. */
export function followStream(options: StreamOptions): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const maxDelay = options.maxDelayMs ?? 10_000;

  async function run(): Promise<void> {
    let lastEventId: string | null = null;
    let delay = 500;
    options.onState("connecting");
    while (!signal.aborted) {
      try {
        const sentToken = getToken();
        const headers: Record<string, string> = { Accept: "text/event-stream", ...authHeaders() };
        if (lastEventId) headers["Last-Event-ID"] = lastEventId;
        const response = await fetch(options.path, { headers, signal, cache: "no-store" });
        if (!response.ok) {
          const error = await errorFromResponse(response, sentToken);
          if (response.status >= 400 && response.status < 500 && response.status !== 429) {
            options.onState("stopped", error);
            return;
          }
          throw error;
        }
        if (!response.body) throw new ApiError(0, "no_stream", "The browser gave no stream body.");
        options.onState("live");
        options.onOpen?.();
        delay = 500;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parser.push(value)) {
            if (event.id) lastEventId = event.id;
            options.onEvent(event);
          }
        }
      } catch {
        // dropped connection or server error: reconnect below
      }
      if (signal.aborted) return;
      options.onState("reconnecting");
      await sleep(delay, signal);
      delay = Math.min(delay * 2, maxDelay);
    }
  }

  void run();
  return () => controller.abort();
}
