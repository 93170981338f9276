// Keyboard triage on the item page: one-letter keys (a, e, r, i, n) and Escape, ignored while
// the reviewer types in a field or holds a modifier key.

import { useEffect, useRef } from "react";

export type KeyMap = Partial<Record<string, () => void>>;

/** True while focus is in a text field, a select or an editable element. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/**
 * Calls ``keys[event.key]`` (lower case, or "Escape") on a key press, while ``enabled``. A key is
 * handled once: ``first`` listeners (an open confirmation) go before the others.
 */
export function useKeys(keys: KeyMap, enabled = true, first = false): void {
  const ref = useRef(keys);
  ref.current = keys;
  useEffect(() => {
    if (!enabled) return undefined;
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      if (isTyping(event.target)) return;
      if (document.querySelector("dialog[open]")) return; // a dialog has the keys (Esc closes it)
      const key = event.key === "Escape" ? "Escape" : event.key.toLowerCase();
      const handler = ref.current[key];
      if (!handler) return;
      event.preventDefault();
      handler();
    };
    window.addEventListener("keydown", onKey, first);
    return () => window.removeEventListener("keydown", onKey, first);
  }, [enabled, first]);
}
