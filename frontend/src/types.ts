// Shapes of the Countersign HTTP API the UI reads. Where the API declares a schema, the UI's
// type is built on the one generated from its OpenAPI document (api.gen.ts, written by
// scripts/openapi-types.sh, which `make lint` runs with --check).

import type { components } from "./api.gen";

type Api = components["schemas"];

/**
 * An API schema with some fields narrowed for the UI (a JSON value where the schema says
 * "anything", decision names where it says "string"). Each narrowed field must still fit the
 * API's, so a field the API renames, drops or retypes fails to compile.
 */
type Narrow<A, U extends { [K in keyof U]: K extends keyof A ? A[K] : never }> = Omit<A, keyof U> & U;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type DecisionType = "accept" | "edit" | "response" | "ignore";

export type InboxThread = Narrow<Api["InboxThread"], { metadata: JsonObject }>;

/** LangChain v1 decisions on one tool call (HumanInTheLoopMiddleware). */
export type ToolDecisionType = "approve" | "edit" | "reject" | "respond";

/** One tool call of a LangChain request, reviewed as its own type (the tool name). */
export type InboxAction = Narrow<
  Api["InboxAction"],
  { args: Json; allowed_decisions: ToolDecisionType[]; args_schema: JsonObject | null }
>;

export type InboxItem = Narrow<
  Api["InboxItem"],
  { value: Json; allowed_decisions: DecisionType[]; actions: InboxAction[]; thread: InboxThread }
>;

export type InboxPage = Narrow<Api["InboxPageOut"], { items: InboxItem[] }>;

export interface InboxCounts {
  total: number;
  by_type: Record<string, number>;
}

export type Resolution = Narrow<Api["ResolvedOut"], { decision: Json }>;

export interface HistoryEntry {
  checkpoint_id: string;
  created_at: string | null;
  next: string[];
  step: number | null;
  source: string | null;
  writes: Json;
}

export type Run = Api["RunOut"];

export interface InboxItemDetail extends InboxItem {
  thread: InboxThread & { values: Json };
  resolution: Resolution | null;
  history: HistoryEntry[];
  runs: Run[];
}

export type DecisionAccepted = Narrow<Api["DecisionOut"], { interrupts: Resolution[] }>;

/** An Agent Inbox HumanInterrupt, as the graph passed it to interrupt(). */
export interface HumanInterrupt {
  action_request: { action: string; args: JsonObject };
  config: {
    allow_accept?: boolean;
    allow_edit?: boolean;
    allow_respond?: boolean;
    allow_ignore?: boolean;
  };
  description?: string | null;
}

/** Live inbox events (GET /inbox/stream). */
export interface InboxEvent {
  event: string;
  id: string;
  thread_id: string;
  owner: string;
  interrupt_id: string;
  type: string;
  status: string;
}

export interface Permission {
  object: string;
  action: string;
  scope: string;
}

export interface RoleView {
  permissions: Permission[];
  inherits: string[];
}

export interface PolicyView {
  tenant_id: string;
  version: number;
  roles: Record<string, RoleView>;
  members: Record<string, string[]>;
}

export interface DryRunResult {
  allowed: boolean;
  rule: string[] | null;
  roles: string[];
  casbin_allowed: boolean;
  casbin_rule: string[];
}

export interface EffectivePermissions {
  user: string;
  roles: string[];
  permissions: (Permission & { via: string })[];
  rank: number;
}

export interface WhoCanDecide {
  interrupt_id: string;
  type: string;
  thread_owner: string;
  decide: string[];
  edit: string[];
}

export interface PolicyChange {
  version: number;
  actor: string;
  action: string;
  detail: Json;
  rules: Json;
  created_at: string;
}

export interface PolicyExport {
  tenant_id: string;
  version: number;
  rules: string[][];
}

export interface AuditEvent {
  id: string;
  seq: number;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  detail: Json;
  payload_hash: string | null;
  request_id: string | null;
  created_at: string;
  prev_hash: string;
  hash: string;
}

export interface ChainReport {
  ok: boolean;
  checked: number;
  head_seq: number;
  first_bad_seq: number | null;
  reason: string | null;
}

/** A thread as GET /threads/{thread_id} answers it (the item page reads its status and values). */
export interface ThreadView {
  thread_id: string;
  status: string;
  values: Json;
}

/** A webhook subscription (GET /webhooks). */
export type Webhook = Api["WebhookOut"];

/** POST /webhooks: the subscription, and the tenant's signing secret when this request created it. */
export type WebhookCreated = Api["WebhookCreated"];

/** POST /webhooks/secret: the new signing secret, shown once. */
export type WebhookSecret = Api["SecretOut"];
