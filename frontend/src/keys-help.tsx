// The keyboard help overlay (press ?): a modal dialog, closed with Esc, the button or a click
// outside it.

import { useEffect, useRef, type MouseEvent } from "react";

const GROUPS: { title: string; keys: [string[], string][] }[] = [
  {
    title: "Inbox",
    keys: [
      [["j"], "Select the next item"],
      [["k"], "Select the previous item"],
      [["Enter", "o"], "Open the selected item"],
    ],
  },
  {
    title: "Item page",
    keys: [
      [["a"], "Accept"],
      [["e"], "Edit the arguments"],
      [["r"], "Respond to the agent"],
      [["i"], "Ignore"],
    ],
  },
  {
    title: "Anywhere",
    keys: [
      [["?"], "Show or hide this help"],
      [["Esc"], "Close this help"],
    ],
  },
];

export function KeysHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);

  const clickOutside = (event: MouseEvent<HTMLDialogElement>) => {
    if (event.target === event.currentTarget) onClose();
  };

  return (
    <dialog
      ref={dialog}
      className="keys-help"
      aria-labelledby="keys-help-title"
      data-testid="keys-help"
      onClose={onClose}
      onClick={clickOutside}
    >
      <div className="keys-help-body">
        <h2 id="keys-help-title">Keyboard shortcuts</h2>
        {GROUPS.map((group) => (
          <section key={group.title} aria-label={group.title}>
            <h3>{group.title}</h3>
            <dl>
              {group.keys.map(([keys, what]) => (
                <div key={what}>
                  <dt>
                    {keys.map((key, n) => (
                      <span key={key}>
                        {n > 0 && " or "}
                        <kbd>{key}</kbd>
                      </span>
                    ))}
                  </dt>
                  <dd>{what}</dd>
                </div>
              ))}
            </dl>
          </section>
        ))}
        <p className="muted">Keys are ignored while you type in a field.</p>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}
