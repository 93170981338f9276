// The one HTTP client of the UI: bearer token, JSON in and out, and every failure turned into
// one typed ApiError carrying the API's {"detail", "code"} and the HTTP status.

import type {
  AuditEvent,
  ChainReport,
  DecisionAccepted,
  DryRunResult,
  EffectivePermissions,
  InboxCounts,
  InboxItemDetail,
  InboxPage,
  Json,
  PolicyChange,
  PolicyExport,
  PolicyView,
  Run,
  ThreadView,
  Webhook,
  WebhookCreated,
  WebhookSecret,
  WhoCanDecide,
} from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;

  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

let token: string | null = null;
let onUnauthorized: ((error: ApiError) => void) | null = null;

export function setToken(value: string | null): void {
  token = value;
}

export function getToken(): string | null {
  return token;
}

/** Called on every 401, so the app can send the user back to the sign-in page. */
export function setUnauthorizedHandler(handler: ((error: ApiError) => void) | null): void {
  onUnauthorized = handler;
}

function describeDetail(detail: unknown): string {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    // FastAPI validation errors: [{loc, msg, type}, ...]
    return detail
      .map((entry: unknown) => {
        if (typeof entry === "object" && entry !== null) {
          const { loc, msg } = entry as { loc?: unknown; msg?: unknown };
          const where = Array.isArray(loc) ? loc.filter((p) => p !== "body").join(".") : "";
          return where ? `${where}: ${String(msg)}` : String(msg);
        }
        return String(entry);
      })
      .join("; ");
  }
  return detail === undefined ? "" : JSON.stringify(detail);
}

/**
 * Turns a failed response into an ApiError (reads the JSON body when there is one).
 * `sentToken` is the token the request carried: a 401 signs the user out only when it refused
 * the token still in use, not a request sent before a sign-out or under an earlier token.
 */
export async function errorFromResponse(response: Response, sentToken: string | null): Promise<ApiError> {
  let code = `http_${response.status}`;
  let detail = response.statusText || `HTTP ${response.status}`;
  try {
    const body: unknown = await response.json();
    if (typeof body === "object" && body !== null) {
      const record = body as Record<string, unknown>;
      if (typeof record["code"] === "string") code = record["code"];
      const text = describeDetail(record["detail"]);
      if (text) detail = text;
    }
  } catch {
    // not JSON: keep the status text
  }
  const error = new ApiError(response.status, code, detail);
  if (response.status === 401 && sentToken !== null && sentToken === token) onUnauthorized?.(error);
  return error;
}

export function authHeaders(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

type QueryValue = string | number | boolean | null | undefined | readonly string[];

interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  query?: Record<string, QueryValue>;
  body?: Json | object;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function withQuery(path: string, query: Record<string, QueryValue> | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, String(v));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const sentToken = token;
  const headers: Record<string, string> = {
    Accept: "application/json",
    ...authHeaders(),
    ...options.headers,
  };
  const init: RequestInit = { method: options.method ?? "GET", headers, cache: "no-store" };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  if (options.signal) init.signal = options.signal;
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), init);
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "Cannot reach the Countersign API. Is the server running?");
  }
  if (!response.ok) throw await errorFromResponse(response, sentToken);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

const enc = encodeURIComponent;

// ---- inbox ---------------------------------------------------------------------------

export interface InboxQuery {
  type?: string | undefined;
  decidable?: boolean;
  order?: "asc" | "desc";
  cursor?: string | null;
  limit?: number;
}

export const inbox = {
  list: (q: InboxQuery, signal?: AbortSignal) =>
    request<InboxPage>("/inbox", {
      query: {
        type: q.type,
        decidable: q.decidable ? "true" : undefined,
        order: q.order,
        cursor: q.cursor,
        limit: q.limit,
      },
      ...(signal ? { signal } : {}),
    }),
  counts: (decidable: boolean) =>
    request<InboxCounts>("/inbox/counts", { query: { decidable: decidable ? "true" : undefined } }),
  item: (id: string) => request<InboxItemDetail>(`/inbox/${enc(id)}`),
  decide: (id: string, decision: Json, payloadHash: string, idempotencyKey: string) =>
    request<DecisionAccepted>(`/inbox/${enc(id)}/decision`, {
      method: "POST",
      body: { decision, payload_hash: payloadHash },
      headers: { "Idempotency-Key": idempotencyKey },
    }),
};

// ---- tenant policy (tenant admins) -------------------------------------------------------

export interface DryRunQuery {
  user?: string;
  role?: string;
  object: string;
  action: string;
  own: boolean;
  rules?: string[][];
}

const ROLE_PREFIX = /^role:/;

/** The policy API names roles `role:<name>`; its edit routes take the bare name. */
function bareRoles(view: PolicyView): PolicyView {
  const bare = (name: string) => name.replace(ROLE_PREFIX, "");
  return {
    ...view,
    roles: Object.fromEntries(
      Object.entries(view.roles).map(([name, role]) => [bare(name), { ...role, inherits: role.inherits.map(bare) }]),
    ),
    members: Object.fromEntries(Object.entries(view.members).map(([user, roles]) => [user, roles.map(bare)])),
  };
}

async function policyRequest(path: string, options: RequestOptions = {}): Promise<PolicyView> {
  return bareRoles(await request<PolicyView>(path, options));
}

export const policies = {
  view: () => policyRequest("/policies"),
  export: () => request<PolicyExport>("/policies/export"),
  assignRole: (user: string, role: string, expectedVersion: number) =>
    policyRequest(`/policies/members/${enc(user)}/roles`, {
      method: "POST",
      body: { role, expected_version: expectedVersion },
    }),
  revokeRole: (user: string, role: string, expectedVersion: number) =>
    policyRequest(`/policies/members/${enc(user)}/roles/${enc(role)}`, {
      method: "DELETE",
      query: { expected_version: expectedVersion },
    }),
  grant: (role: string, object: string, action: string, scope: string, expectedVersion: number) =>
    policyRequest(`/policies/roles/${enc(role)}/permissions`, {
      method: "POST",
      body: { object, action, scope, expected_version: expectedVersion },
    }),
  revoke: (role: string, object: string, action: string, scope: string, expectedVersion: number) =>
    policyRequest(`/policies/roles/${enc(role)}/permissions/remove`, {
      method: "POST",
      body: { object, action, scope, expected_version: expectedVersion },
    }),
  addParent: (role: string, parent: string, expectedVersion: number) =>
    policyRequest(`/policies/roles/${enc(role)}/parents`, {
      method: "POST",
      body: { parent, expected_version: expectedVersion },
    }),
  removeParent: (role: string, parent: string, expectedVersion: number) =>
    policyRequest(`/policies/roles/${enc(role)}/parents/${enc(parent)}`, {
      method: "DELETE",
      query: { expected_version: expectedVersion },
    }),
  dryRun: (q: DryRunQuery) => request<DryRunResult>("/policies/test", { method: "POST", body: q }),
  effective: (user: string) => request<EffectivePermissions>(`/policies/effective/${enc(user)}`),
  whoCanDecide: (itemId: string) => request<WhoCanDecide>(`/policies/who-can-decide/${enc(itemId)}`),
  history: (limit = 50) => request<PolicyChange[]>("/policies/history", { query: { limit } }),
  rollback: (version: number, expectedVersion: number) =>
    policyRequest("/policies/rollback", {
      method: "POST",
      body: { version, expected_version: expectedVersion },
    }),
};

// ---- audit --------------------------------------------------------------------------------

export const audit = {
  list: (afterSeq: number, limit = 100) =>
    request<AuditEvent[]>("/audit", { query: { after_seq: afterSeq, limit } }),
  verify: () => request<ChainReport>("/audit/verify"),
};

// ---- runs (the item page follows the run a decision resumed) ------------------------------

export const runs = {
  get: (threadId: string, runId: string) => request<Run>(`/threads/${enc(threadId)}/runs/${enc(runId)}`),
  thread: (threadId: string) => request<ThreadView>(`/threads/${enc(threadId)}`),
};

// ---- audit search (the audit page's filters) -----------------------------------------------

export interface AuditFilter {
  action?: string;
  target_type?: string;
  target_id?: string;
  actor?: string; // the subject who acted
  since?: string; // ISO date-time, inclusive
  until?: string; // ISO date-time, exclusive
}

export const auditSearch = (afterSeq: number, limit: number, filter: AuditFilter) =>
  request<AuditEvent[]>("/audit", { query: { after_seq: afterSeq, limit, ...filter } });

// ---- webhooks (tenant admins) --------------------------------------------------------------

export const webhooks = {
  list: () => request<Webhook[]>("/webhooks"),
  create: (url: string, events: string[], description?: string) =>
    request<WebhookCreated>("/webhooks", { method: "POST", body: { url, events, ...(description ? { description } : {}) } }),
  remove: (id: string) => request<undefined>(`/webhooks/${enc(id)}`, { method: "DELETE" }),
  rotateSecret: () => request<WebhookSecret>("/webhooks/secret", { method: "POST" }),
};
