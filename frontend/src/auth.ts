// The reviewer's token: pasted on the sign-in page or handed over in the URL fragment
// (`/ui/#token=...`, as `countersign serve` prints it). Kept in sessionStorage only.

const KEY = "countersign.token";

export interface Claims {
  sub: string;
  tenant: string;
  exp: number | null;
}

export function loadToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/** Takes `#token=...` out of the address bar (so it is not bookmarked or shared) and returns it. */
export function takeFragmentToken(): string | null {
  const fragment = window.location.hash.replace(/^#/, "");
  if (!fragment) return null;
  const params = new URLSearchParams(fragment);
  const token = params.get("token");
  if (token === null) return null;
  params.delete("token");
  const rest = params.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
  window.history.replaceState(window.history.state, "", url);
  return token.trim() || null;
}

function base64UrlDecode(part: string): string {
  const padded = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** A JWT's payload, unverified (the server verifies every request); null when it is not one. */
export function payloadOf(token: string): Record<string, unknown> | null {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const payload: unknown = JSON.parse(base64UrlDecode(parts[1]));
    return typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * What the token says about its holder, for display only: the server verifies every request.
 * Returns null when the text is not a JWT at all.
 */
export function readClaims(token: string): Claims | null {
  const record = payloadOf(token);
  if (record === null) return null;
  const sub = record["sub"];
  const tenant = record["tenant"];
  const exp = record["exp"];
  return {
    sub: typeof sub === "string" ? sub : "?",
    tenant: typeof tenant === "string" ? tenant : "?",
    exp: typeof exp === "number" ? exp : null,
  };
}
