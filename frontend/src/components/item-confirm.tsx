import { useEffect, useRef } from "react";

import { useKeys } from "../item-keys";

/**
 * The inline confirmation of a destructive decision: "Confirm <verb>" and "Cancel" (Escape).
 * Nothing is sent until the reviewer confirms.
 */
export function ConfirmPair({
  verb,
  disabled,
  onConfirm,
  onCancel,
}: {
  verb: string;
  disabled: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const confirm = useRef<HTMLButtonElement>(null);
  useEffect(() => confirm.current?.focus(), []);
  useKeys({ Escape: onCancel }, true, true);
  return (
    <div className="item-confirm" role="group" aria-label={`Confirm ${verb}`} data-testid="confirm">
      <span>Really {verb}? Nothing is sent until you confirm.</span>
      <button ref={confirm} type="button" className="danger" disabled={disabled} onClick={onConfirm}>
        Confirm {verb}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel <kbd className="item-kbd" aria-hidden="true">Esc</kbd>
      </button>
    </div>
  );
}

/** The key hint on a decision button (hidden from its accessible name). */
export function KeyHint({ k }: { k: string }) {
  return (
    <kbd className="item-kbd" aria-hidden="true">
      {k}
    </kbd>
  );
}
