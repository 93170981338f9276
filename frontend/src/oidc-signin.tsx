// The identity provider's side of signing in, for App (the callback and renewal) and SignIn
// (the button). See oidc.ts for the protocol.

import { useEffect, useState } from "react";

import {
  beginSignIn,
  completeSignIn,
  isCallback,
  loadUiConfig,
  providerName,
  refreshSignIn,
  renewIn,
  SignInError,
  type OidcConfig,
  type UiConfig,
} from "./oidc";

const REFRESH = "countersign.refresh";
const BASE = import.meta.env.BASE_URL;

/** Where the reviewer is now, to come back to after the provider: a path under /ui/. */
export function currentPlace(): string {
  const path = window.location.pathname.startsWith(BASE) ? window.location.pathname.slice(BASE.length) : "";
  return path + window.location.search;
}

export function useUiConfig(): UiConfig | null {
  const [config, setConfig] = useState<UiConfig | null>(null);
  useEffect(() => {
    let live = true;
    void loadUiConfig().then((loaded) => live && setConfig(loaded));
    return () => {
      live = false;
    };
  }, []);
  return config;
}

interface Session {
  onToken: (token: string) => void;
  onFailure: (reason: string | null) => void;
  navigate: (path: string) => void;
}

/**
 * The callback of a sign-in (`/ui/callback?code=…`) is completed here; while signed in with
 * the provider, the token is renewed a minute before it expires: with the refresh token when
 * the provider gave one, else by a silent round trip (`prompt=none`) that returns here.
 */
export function useOidcSession(config: UiConfig | null, token: string | null, session: Session): boolean {
  const { onToken, onFailure, navigate } = session;
  const [busy, setBusy] = useState(() => isCallback(window.location.pathname));
  const oidc = config?.oidc ?? null;

  useEffect(() => {
    if (!oidc || !isCallback(window.location.pathname)) return;
    const search = window.location.search;
    window.history.replaceState(null, "", BASE); // the code is not for the address bar
    completeSignIn(oidc, search)
      .then((signed) => {
        if (signed.refreshToken) sessionStorage.setItem(REFRESH, signed.refreshToken);
        onToken(signed.token);
        navigate(signed.returnTo);
      })
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        onFailure(message === "login_required" ? "Your session ended: sign in again." : message);
      })
      .finally(() => setBusy(false));
  }, [oidc, onToken, onFailure, navigate]);

  useEffect(() => {
    if (!oidc || !token) return;
    const wait = renewIn(token);
    if (wait === null) return;
    const timer = window.setTimeout(() => {
      const refresh = sessionStorage.getItem(REFRESH);
      if (!refresh) {
        void beginSignIn(oidc, currentPlace(), true);
        return;
      }
      refreshSignIn(oidc, refresh)
        .then((signed) => {
          if (signed.refreshToken) sessionStorage.setItem(REFRESH, signed.refreshToken);
          onToken(signed.token);
        })
        .catch(() => {
          sessionStorage.removeItem(REFRESH);
          void beginSignIn(oidc, currentPlace(), true);
        });
    }, wait);
    return () => window.clearTimeout(timer);
  }, [oidc, token, onToken]);

  return busy && oidc !== null;
}

export function forgetOidcSession(): void {
  sessionStorage.removeItem(REFRESH);
}

export function OidcButton({ config }: { config: OidcConfig }) {
  const [error, setError] = useState<string | null>(null);
  const [leaving, setLeaving] = useState(false);
  const go = () => {
    setLeaving(true);
    beginSignIn(config, currentPlace()).catch((failure: unknown) => {
      setLeaving(false);
      setError(failure instanceof SignInError ? failure.message : "The identity provider cannot be reached.");
    });
  };
  return (
    <div className="oidc">
      <button type="button" className="primary" onClick={go} disabled={leaving} data-testid="oidc-signin">
        Sign in with {providerName(config)}
      </button>
      {error && (
        <div className="alert error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
