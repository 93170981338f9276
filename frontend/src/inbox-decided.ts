// Items that left the inbox while this tab watched it (decided here, by someone else, expired or
// cancelled), newest first, with who decided them. Kept in memory for this tab only, so the
// inbox still shows them after a visit to an item page.

import { inbox } from "./api";
import type { InboxItemDetail } from "./types";

const LIMIT = 10;

let recent: InboxItemDetail[] = [];
const waiting = new Set<string>();

export function recentDecided(): InboxItemDetail[] {
  return recent;
}

/** Remembers an item this tab decided, to be looked up when the inbox shows next. */
export function noteDecided(id: string): void {
  waiting.add(id);
}

/** Ids noted by {@link noteDecided} since the last call. */
export function takeNoted(): string[] {
  const ids = [...waiting];
  waiting.clear();
  return ids;
}

/** Looks the item up; when it is no longer pending, puts it first in the list and returns the list. */
export async function lookUpDecided(id: string): Promise<InboxItemDetail[] | null> {
  let item: InboxItemDetail;
  try {
    item = await inbox.item(id);
  } catch {
    return null; // not visible to this reviewer (any more)
  }
  if (item.status === "pending") return null;
  recent = [item, ...recent.filter((r) => r.id !== id)].slice(0, LIMIT);
  return recent;
}

/** Forgets everything (on sign-out: the next reviewer in this tab starts afresh). */
export function forgetDecided(): void {
  recent = [];
  waiting.clear();
}
