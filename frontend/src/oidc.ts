// Sign-in with the organisation's identity provider: OpenID Connect, authorization code with
// PKCE (S256), the UI a public client. The service says which provider at /ui/config.json
// (COUNTERSIGN_OIDC_*); the provider's tokens are verified by the API like any other token.
// Only the flow's one-time values (verifier, state, nonce, where to return) are kept in
// sessionStorage between the redirect and the callback; the token itself is kept by auth.ts.

import { payloadOf } from "./auth";

export interface OidcConfig {
  issuer: string;
  client_id: string;
  scopes: string;
  token: "id_token" | "access_token";
  name: string;
}

export interface UiConfig {
  oidc: OidcConfig | null;
  dev_sign_in: boolean;
}

export interface SignedIn {
  token: string;
  refreshToken: string | null;
  returnTo: string;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

interface Pending {
  verifier: string;
  state: string;
  nonce: string;
  returnTo: string;
  tokenEndpoint: string;
}

const PENDING = "countersign.oidc";
export const CALLBACK_PATH = "callback";

export class SignInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SignInError";
  }
}

export async function loadUiConfig(): Promise<UiConfig> {
  try {
    const response = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: "no-cache" });
    if (!response.ok) return { oidc: null, dev_sign_in: true };
    return (await response.json()) as UiConfig;
  } catch {
    return { oidc: null, dev_sign_in: true };
  }
}

export function providerName(config: OidcConfig): string {
  if (config.name) return config.name;
  try {
    return new URL(config.issuer).host;
  } catch {
    return config.issuer;
  }
}

export function base64Url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(size = 32): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(size)));
}

/** The S256 code challenge of a verifier (RFC 7636). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

export function redirectUri(): string {
  return `${window.location.origin}${import.meta.env.BASE_URL}${CALLBACK_PATH}`;
}

async function discover(config: OidcConfig): Promise<Discovery> {
  const response = await fetch(`${config.issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new SignInError(`The identity provider did not answer (HTTP ${response.status}).`);
  const document = (await response.json()) as Partial<Discovery>;
  if (!document.authorization_endpoint || !document.token_endpoint) {
    throw new SignInError("The identity provider's discovery document names no endpoints.");
  }
  return { authorization_endpoint: document.authorization_endpoint, token_endpoint: document.token_endpoint };
}

/**
 * Leaves for the provider's sign-in page. `silent` asks it not to show one (`prompt=none`):
 * with a live session there it comes straight back, else back with `login_required`.
 */
export async function beginSignIn(config: OidcConfig, returnTo: string, silent = false): Promise<void> {
  const discovery = await discover(config);
  const pending: Pending = {
    verifier: randomText(48),
    state: randomText(),
    nonce: randomText(),
    returnTo,
    tokenEndpoint: discovery.token_endpoint,
  };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scopes,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
  });
  if (silent) params.set("prompt", "none");
  window.location.assign(`${discovery.authorization_endpoint}?${params.toString()}`);
}

export function isCallback(pathname: string): boolean {
  return pathname === `${import.meta.env.BASE_URL}${CALLBACK_PATH}`;
}

async function tokenRequest(endpoint: string, form: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    const reason = typeof body["error"] === "string" ? body["error"] : `HTTP ${response.status}`;
    throw new SignInError(`The identity provider refused the sign-in (${reason}).`);
  }
  return body;
}

function pick(config: OidcConfig, body: Record<string, unknown>): string {
  const token = body[config.token];
  if (typeof token !== "string" || !token) {
    throw new SignInError(`The identity provider sent no ${config.token}.`);
  }
  return token;
}

/** The callback: checks the state, trades the code (with the verifier) for tokens. */
export async function completeSignIn(config: OidcConfig, search: string): Promise<SignedIn> {
  const params = new URLSearchParams(search);
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING); // one use, whatever happens
  if (!raw) throw new SignInError("This sign-in was not started here (or was already used): sign in again.");
  const pending = JSON.parse(raw) as Pending;
  if (params.get("state") !== pending.state) throw new SignInError("The sign-in answer does not match its request.");
  const error = params.get("error");
  if (error) throw new SignInError(error === "login_required" ? "login_required" : `Sign-in failed: ${error}.`);
  const code = params.get("code");
  if (!code) throw new SignInError("The identity provider sent no code.");
  const body = await tokenRequest(pending.tokenEndpoint, {
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri(),
    client_id: config.client_id,
    code_verifier: pending.verifier,
  });
  const idToken = body["id_token"];
  if (typeof idToken === "string" && payloadOf(idToken)?.["nonce"] !== pending.nonce) {
    throw new SignInError("The identity provider's answer is not for this sign-in (nonce).");
  }
  const refresh = body["refresh_token"];
  return { token: pick(config, body), refreshToken: typeof refresh === "string" ? refresh : null, returnTo: pending.returnTo };
}

/** A new token before the current one expires, when the provider gave a refresh token. */
export async function refreshSignIn(config: OidcConfig, refreshToken: string): Promise<SignedIn> {
  const discovery = await discover(config);
  const body = await tokenRequest(discovery.token_endpoint, {
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: config.client_id,
  });
  const refresh = body["refresh_token"];
  return {
    token: pick(config, body),
    refreshToken: typeof refresh === "string" ? refresh : refreshToken,
    returnTo: "",
  };
}

/** Milliseconds until a token should be renewed: a minute before it expires (never < 5 s). */
export function renewIn(token: string, now: number = Date.now()): number | null {
  const exp = payloadOf(token)?.["exp"];
  if (typeof exp !== "number") return null;
  return Math.max(5_000, exp * 1000 - now - 60_000);
}
