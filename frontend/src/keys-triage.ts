// Keyboard triage of a list of rows: j/k move the selection, Enter or o opens the selected row,
// ? toggles the help. Keys typed into a field are left alone.

import { useEffect, useRef } from "react";

/** True when the key went to something the user types into. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/** True when Enter on the target already does something (follows a link, presses a button). */
function activates(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && target.closest("a, button, summary") !== null;
}

export interface TriageKeys {
  ids: string[];
  selected: string | null;
  helpOpen: boolean;
  select: (id: string) => void;
  open: (id: string) => void;
  toggleHelp: () => void;
}

export function useTriageKeys(options: TriageKeys): void {
  const current = useRef(options);
  current.current = options;

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (isTyping(event.target)) return;
      const { ids, selected, helpOpen, select, open, toggleHelp } = current.current;
      if (event.key === "?") {
        event.preventDefault();
        toggleHelp();
        return;
      }
      if (helpOpen) return;
      const at = selected === null ? -1 : ids.indexOf(selected);
      if (event.key === "j" || event.key === "k") {
        const next = ids[event.key === "j" ? Math.min(at + 1, ids.length - 1) : Math.max(at - 1, 0)];
        if (next === undefined) return;
        event.preventDefault();
        select(next);
      } else if (event.key === "o" || (event.key === "Enter" && !activates(event.target))) {
        const id = ids[at];
        if (id === undefined) return;
        event.preventDefault();
        open(id);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
