import { useState, type FormEvent } from "react";

import { readClaims } from "../auth";
import type { UiConfig } from "../oidc";
import { OidcButton } from "../oidc-signin";

/** The token of what was pasted: the token itself, `Bearer <token>`, or the printed `…/ui/#token=…` link. */
function tokenOf(text: string): string {
  const trimmed = text.trim();
  const fragment = trimmed.includes("#") ? trimmed.slice(trimmed.indexOf("#") + 1) : "";
  const fromLink = fragment ? new URLSearchParams(fragment).get("token") : null;
  return (fromLink ?? trimmed).trim().replace(/^Bearer\s+/i, "");
}

interface Props {
  onSignIn: (token: string) => void;
  reason: string | null;
  /** What the service offers (null while it is being asked): its identity provider, the paste sign-in. */
  config: UiConfig | null;
}

export function SignIn({ onSignIn, reason, config }: Props) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const token = tokenOf(text);
    if (!readClaims(token)) {
      setError("That is not a JWT: paste the whole token (three parts separated by dots).");
      return;
    }
    onSignIn(token);
  };

  return (
    <main className="signin">
      <h1>Countersign</h1>
      <p>
        Review what your agents are waiting for.{" "}
        {config?.oidc ? "Sign in with your organisation's account." : "Sign in with the JWT your administrator gave you."}
      </p>
      {reason && (
        <div className="alert error" role="alert" data-testid="signin-reason">
          {reason}
        </div>
      )}
      {config?.oidc && <OidcButton config={config.oidc} />}
      {config?.oidc && config.dev_sign_in && <p className="hint">Or use a token:</p>}
      {(!config || config.dev_sign_in) && (
        <form onSubmit={submit}>
          <label htmlFor="token">Access token (JWT)</label>
          <p className="hint" id="token-hint">
            Paste the token, or the sign-in link, here or into the address bar.
          </p>
          <textarea
            id="token"
            rows={5}
            value={text}
            onChange={(e) => setText(e.target.value)}
            spellCheck={false}
            aria-describedby="token-hint"
            autoComplete="off"
          />
          {error && (
            <div className="alert error" role="alert">
              {error}
            </div>
          )}
          <button type="submit" className="primary">
            Sign in
          </button>
        </form>
      )}
      <p className="hint">
        <code>countersign serve</code> prints a link that signs you in as the demo user; other tokens
        come from <code>countersign token mint</code> or your identity provider.
      </p>
    </main>
  );
}
