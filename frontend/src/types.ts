// Shapes of the Countersign HTTP API the UI reads (service/api/schemas/).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type DecisionType = "accept" | "edit" | "response" | "ignore";

export interface InboxThread {
  thread_id: string;
  owner: string;
  status: string;
  metadata: JsonObject;
}

/** LangChain v1 decisions on one tool call (HumanInTheLoopMiddleware). */
export type ToolDecisionType = "approve" | "edit" | "reject" | "respond";

/** One tool call of a LangChain request, reviewed as its own type (the tool name). */
export interface InboxAction {
  name: string;
  args: Json;
  description: string | null;
  allowed_decisions: ToolDecisionType[];
  args_schema: JsonObject | null;
  can_decide: boolean;
  can_edit: boolean;
}

export interface InboxItem {
  id: string;
  thread_id: string;
  interrupt_id: string;
  task_id: string;
  node: string;
  run_id: string | null;
  graph_id: string;
  type: string;
  status: "pending" | "resolved" | "expired" | "cancelled" | "voided";
  description: string | null;
  value: Json;
  agent_inbox: boolean;
  allowed_decisions: DecisionType[];
  payload_hash: string;
  checkpoint_id: string | null;
  created_at: string;
  expires_at: string | null;
  age_seconds: number;
  kind: "agent_inbox" | "hitl_request" | "tool_approval" | "raw";
  actions: InboxAction[];
  can_decide: boolean;
  can_edit: boolean;
  thread: InboxThread;
}

export interface InboxPage {
  items: InboxItem[];
  next_cursor: string | null;
}

export interface InboxCounts {
  total: number;
  by_type: Record<string, number>;
}

export interface Resolution {
  id: string;
  interrupt_id: string;
  status: string;
  resolved_by: string | null;
  resolved_at: string | null;
  decision: Json;
}

export interface HistoryEntry {
  checkpoint_id: string;
  created_at: string | null;
  next: string[];
  step: number | null;
  source: string | null;
  writes: Json;
}

export interface Run {
  run_id: string;
  thread_id: string;
  assistant_id: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface InboxItemDetail extends InboxItem {
  thread: InboxThread & { values: Json };
  resolution: Resolution | null;
  history: HistoryEntry[];
  runs: Run[];
}

export interface DecisionAccepted {
  run: Run;
  interrupts: Resolution[];
}

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
