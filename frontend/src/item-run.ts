// Follows the run a decision resumed: its SSE stream until the run ends, then the run and its
// thread as they finished (the stream carries events, not the run's final status).

import { authHeaders, errorFromResponse, getToken, runs } from "./api";
import { SseParser, type SseEvent } from "./sse";
import type { Json, Run, ThreadView } from "./types";

export const TERMINAL = new Set(["success", "error", "timeout", "interrupted"]);

export interface RunProgress {
  status: string;
  values: Json | undefined;
  error: string | null;
  thread: ThreadView | null;
  done: boolean;
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

function parse(data: string): Json | undefined {
  try {
    return JSON.parse(data) as Json;
  } catch {
    return undefined;
  }
}

function errorText(value: Json | undefined, fallback: string): string {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const message = value["message"];
    const name = value["error"];
    if (typeof message === "string" && message) return typeof name === "string" ? `${name}: ${message}` : message;
  }
  return typeof value === "string" && value ? value : fallback;
}

async function readStream(run: Run, signal: AbortSignal, onEvent: (event: SseEvent) => void): Promise<void> {
  const sentToken = getToken();
  const path = `/threads/${encodeURIComponent(run.thread_id)}/runs/${encodeURIComponent(run.run_id)}/stream`;
  const response = await fetch(path, {
    headers: { Accept: "text/event-stream", ...authHeaders() },
    signal,
    cache: "no-store",
  });
  if (!response.ok) throw await errorFromResponse(response, sentToken);
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const event of parser.push(value)) onEvent(event);
  }
}

/** Reports the run's progress until it ends; the returned function stops following it. */
export function followRun(run: Run, onProgress: (progress: RunProgress) => void): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const progress: RunProgress = { status: run.status, values: undefined, error: null, thread: null, done: false };
  const report = (patch: Partial<RunProgress>) => {
    if (signal.aborted) return;
    Object.assign(progress, patch);
    onProgress({ ...progress });
  };

  async function follow(): Promise<void> {
    try {
      await readStream(run, signal, (event) => {
        const base = event.event.split("|", 1)[0] ?? event.event;
        if (!TERMINAL.has(progress.status) && progress.status !== "running") report({ status: "running" });
        if (base === "values") {
          const values = parse(event.data);
          if (values !== undefined) report({ values });
        } else if (base === "error") {
          report({ error: errorText(parse(event.data), event.data) });
        }
      });
    } catch {
      // the stream failed or was refused: the run itself still says how it ended
    }
    // the stream is over: wait for the run's final status (soon, unless the stream broke early)
    for (let attempt = 0; attempt < 160 && !signal.aborted; attempt++) {
      try {
        const current = await runs.get(run.thread_id, run.run_id);
        if (current.status !== progress.status) report({ status: current.status });
        if (TERMINAL.has(current.status)) break;
      } catch {
        // try again
      }
      await sleep(attempt < 10 ? 250 : 2000, signal);
    }
    if (signal.aborted) return;
    try {
      const thread = await runs.thread(run.thread_id);
      report({ thread, values: thread.values, done: true });
    } catch {
      report({ done: true });
    }
  }

  void follow();
  return () => controller.abort();
}
