import { useCallback, useEffect, useState } from "react";

import { setToken, setUnauthorizedHandler } from "./api";
import { clearToken, loadToken, readClaims, saveToken, takeFragmentToken } from "./auth";
import { Link } from "./components/common";
import { forgetDecided, noteDecided } from "./inbox-decided";
import { forgetOidcSession, useOidcSession, useUiConfig } from "./oidc-signin";
import { Admin } from "./pages/Admin";
import { Audit } from "./pages/Audit";
import { Inbox } from "./pages/Inbox";
import { ItemView } from "./pages/ItemView";
import { SignIn } from "./pages/SignIn";
import { navigate, useRoute } from "./router";

function initialToken(): string | null {
  const fromFragment = takeFragmentToken();
  if (fromFragment) saveToken(fromFragment);
  const token = fromFragment ?? loadToken();
  setToken(token);
  return token;
}

export function App() {
  const [token, setTokenState] = useState<string | null>(initialToken);
  const [signInReason, setSignInReason] = useState<string | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const route = useRoute();

  const signOut = useCallback((reason: string | null) => {
    clearToken();
    forgetOidcSession();
    forgetDecided();
    setToken(null);
    setTokenState(null);
    setSignInReason(reason);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler((error) => signOut(`Your token was refused: ${error.detail} Sign in again.`));
    return () => setUnauthorizedHandler(null);
  }, [signOut]);

  const signIn = useCallback((value: string) => {
    saveToken(value);
    setToken(value);
    setTokenState(value);
    setSignInReason(null);
  }, []);

  // The printed sign-in link pasted into a tab already showing the UI only changes the fragment.
  useEffect(() => {
    const onHashChange = () => {
      const fromFragment = takeFragmentToken();
      if (!fromFragment) return;
      if (fromFragment !== loadToken()) forgetDecided();
      signIn(fromFragment);
    };
    window.addEventListener("hashchange", onHashChange);
    return () => window.removeEventListener("hashchange", onHashChange);
  }, [signIn]);

  const config = useUiConfig();
  const completing = useOidcSession(config, token, { onToken: signIn, onFailure: setSignInReason, navigate });

  if (!token && completing) {
    return (
      <main className="signin">
        <p role="status">Signing in…</p>
      </main>
    );
  }
  if (!token) return <SignIn onSignIn={signIn} reason={signInReason} config={config} />;
  const claims = readClaims(token);

  const decided = (message: string) => {
    if (route.page === "item") noteDecided(route.id);
    setFlash(message);
    navigate("");
  };

  let page;
  switch (route.page) {
    case "inbox":
      page = <Inbox flash={flash} onDismissFlash={() => setFlash(null)} />;
      break;
    case "item":
      page = <ItemView key={route.id} id={route.id} onDecided={decided} />;
      break;
    case "admin":
      page = <Admin />;
      break;
    case "audit":
      page = <Audit />;
      break;
    case "missing":
      page = (
        <main>
          <h1>Page not found</h1>
          <p role="alert">
            There is no page at <code>/ui/{route.path}</code>. <Link to="">Go to the inbox</Link>.
          </p>
        </main>
      );
      break;
  }

  return (
    <div className="app">
      <header className="top">
        <span className="brand">Countersign</span>
        <nav aria-label="Main">
          <Link to="" className={route.page === "inbox" || route.page === "item" ? "active" : ""}>
            Inbox
          </Link>
          <Link to="admin" className={route.page === "admin" ? "active" : ""}>
            Admin
          </Link>
          <Link to="audit" className={route.page === "audit" ? "active" : ""}>
            Audit
          </Link>
        </nav>
        <span className="who" data-testid="whoami">
          {claims ? `${claims.sub} @ ${claims.tenant}` : "signed in"}
        </span>
        <button type="button" onClick={() => signOut(null)}>
          Sign out
        </button>
      </header>
      {page}
    </div>
  );
}
