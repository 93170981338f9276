import { useCallback, useEffect, useRef, useState } from "react";

import "../admin.css";
import { inbox, policies } from "../api";
import { interruptTypes, type Edit } from "../admin-common";
import { DryRun, Effective, WhoCan } from "../admin-explain";
import { PermissionGrid } from "../admin-grid";
import { History } from "../admin-history";
import { Members } from "../admin-members";
import { Roles } from "../admin-roles";
import { Webhooks } from "../admin-webhooks";
import { ErrorAlert } from "../components/common";
import type { PolicyChange, PolicyView } from "../types";

const TABS = ["Permissions", "Roles", "Members", "History", "Webhooks"] as const;
type Tab = (typeof TABS)[number];

/** Tenant admin: a structured policy editor in tabs, with the request tester beside it. */
export function Admin() {
  const [policy, setPolicy] = useState<PolicyView | null>(null);
  const [history, setHistory] = useState<PolicyChange[]>([]);
  const [inboxTypes, setInboxTypes] = useState<string[]>([]);
  const [extraTypes, setExtraTypes] = useState<string[]>([]);
  const [tab, setTab] = useState<Tab>("Permissions");
  const [loadError, setLoadError] = useState<unknown>(null);
  const [editError, setEditError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const version = useRef(0); // the version the next edit builds on, also within one click's edits

  const load = useCallback(async () => {
    try {
      const [view, changes] = await Promise.all([policies.view(), policies.history()]);
      setPolicy(view);
      version.current = view.version;
      setHistory(changes);
      setLoadError(null);
    } catch (e) {
      setLoadError(e);
    }
  }, []);

  useEffect(() => {
    void load();
    inbox
      .counts(false)
      .then((counts) => setInboxTypes(Object.keys(counts.by_type)))
      .catch(() => setInboxTypes([])); // the grid still shows the policy's own types
  }, [load]);

  /** One edit against the version on screen; false (and the error shown) when it failed. */
  const edit: Edit = async (what, change) => {
    if (!policy) return false;
    setEditError(null);
    setNotice(null);
    try {
      const next = await change(version.current);
      version.current = next.version;
      setPolicy(next);
      setNotice(`${what} (policy version ${next.version}).`);
      setHistory(await policies.history());
      return true;
    } catch (e) {
      setEditError(e);
      void load();
      return false;
    }
  };

  if (loadError) {
    return (
      <main>
        <h1>Tenant administration</h1>
        <ErrorAlert error={loadError} testId="admin-error" />
        <p className="muted">This page is for the tenant admins of your tenant.</p>
      </main>
    );
  }
  if (!policy) return <main className="muted">Loading…</main>;

  const roleNames = Object.keys(policy.roles).sort();
  const types = interruptTypes(policy, inboxTypes, extraTypes);
  const addType = (type: string) => setExtraTypes((old) => (old.includes(type) ? old : [...old, type]));

  return (
    <main className="admin">
      <div className="page-head">
        <h1>Tenant administration</h1>
        <span className="badge" data-testid="policy-version">
          {policy.tenant_id} · version {policy.version}
        </span>
      </div>
      {notice && (
        <div className="alert success" role="status" data-testid="admin-notice">
          {notice}
        </div>
      )}
      <ErrorAlert error={editError} testId="admin-edit-error" />

      <div className="admin-layout">
        <div className="admin-editor">
          <div role="tablist" aria-label="Policy editor" className="admin-tabs">
            {TABS.map((name) => (
              <button
                key={name}
                type="button"
                role="tab"
                id={`tab-${name}`}
                aria-selected={tab === name}
                aria-controls={`panel-${name}`}
                tabIndex={tab === name ? 0 : -1}
                onClick={() => setTab(name)}
                onKeyDown={(e) => {
                  const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
                  if (!step) return;
                  const next = TABS[(TABS.indexOf(name) + step + TABS.length) % TABS.length] ?? name;
                  setTab(next);
                  document.getElementById(`tab-${next}`)?.focus();
                }}
              >
                {name}
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="admin-panel">
            {tab === "Permissions" && <PermissionGrid policy={policy} roleNames={roleNames} types={types} edit={edit} addType={addType} />}
            {tab === "Roles" && <Roles policy={policy} roleNames={roleNames} types={types} edit={edit} />}
            {tab === "Members" && <Members policy={policy} roleNames={roleNames} edit={edit} />}
            {tab === "History" && <History history={history} current={policy.version} edit={edit} />}
            {tab === "Webhooks" && <Webhooks />}
          </div>
        </div>
        <aside className="admin-aside" aria-label="Test and explain">
          <DryRun />
          <Effective />
          <WhoCan />
        </aside>
      </div>
    </main>
  );
}
