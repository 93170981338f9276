import { useState, type FormEvent } from "react";

import { readClaims } from "../auth";

interface Props {
  onSignIn: (token: string) => void;
  reason: string | null;
}

export function SignIn({ onSignIn, reason }: Props) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const token = text.trim().replace(/^Bearer\s+/i, "");
    if (!readClaims(token)) {
      setError("That is not a JWT: paste the whole token (three parts separated by dots).");
      return;
    }
    onSignIn(token);
  };

  return (
    <main className="signin">
      <h1>Countersign</h1>
      <p>Review what your agents are waiting for. Sign in with the JWT your administrator gave you.</p>
      {reason && (
        <div className="alert error" role="alert" data-testid="signin-reason">
          {reason}
        </div>
      )}
      <form onSubmit={submit}>
        <label htmlFor="token">Access token (JWT)</label>
        <textarea
          id="token"
          rows={5}
          value={text}
          onChange={(e) => setText(e.target.value)}
          spellCheck={false}
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
      <p className="hint">
        <code>countersign serve</code> prints a link that signs you in as the demo user; other tokens
        come from <code>countersign token mint</code> or your identity provider.
      </p>
    </main>
  );
}
