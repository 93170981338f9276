import { describe, expect, it } from "vitest";

import { base64Url, challengeOf, providerName, renewIn } from "../oidc";

function tokenWith(claims: Record<string, unknown>): string {
  return `h.${base64Url(new TextEncoder().encode(JSON.stringify(claims)))}.s`;
}

describe("PKCE", () => {
  it("computes the S256 challenge of RFC 7636's example", async () => {
    expect(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("encodes base64url without padding", () => {
    expect(base64Url(new Uint8Array([251, 255]))).toBe("-_8");
  });
});

describe("renewal", () => {
  it("renews a minute before expiry, never sooner than in 5 s", () => {
    const now = 1_000_000_000_000;
    expect(renewIn(tokenWith({ exp: now / 1000 + 600 }), now)).toBe(540_000);
    expect(renewIn(tokenWith({ exp: now / 1000 + 30 }), now)).toBe(5_000);
    expect(renewIn(tokenWith({ sub: "no exp" }), now)).toBeNull();
    expect(renewIn("not a token", now)).toBeNull();
  });
});

describe("providerName", () => {
  it("prefers the configured name, else the issuer's host", () => {
    const config = { issuer: "https://login.example.org/realms/acme", client_id: "ui", scopes: "openid", token: "id_token" as const, name: "" };
    expect(providerName(config)).toBe("login.example.org");
    expect(providerName({ ...config, name: "Acme SSO" })).toBe("Acme SSO");
  });
});
