import { describe, expect, it } from "vitest";

import { readClaims } from "../auth";

function jwt(payload: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  const base64 = btoa(String.fromCharCode(...bytes));
  const part = base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `eyJhbGciOiJIUzI1NiJ9.${part}.signature`;
}

describe("readClaims", () => {
  it("reads subject, tenant and expiry for display", () => {
    expect(readClaims(jwt({ sub: "ada", tenant: "acme", exp: 1700000000 }))).toEqual({
      sub: "ada",
      tenant: "acme",
      exp: 1700000000,
    });
  });

  it("decodes base64url with non-ASCII text", () => {
    expect(readClaims(jwt({ sub: "zoë", tenant: "t" }))?.sub).toBe("zoë");
  });

  it("marks missing or mistyped claims instead of failing", () => {
    expect(readClaims(jwt({ sub: 7 }))).toEqual({ sub: "?", tenant: "?", exp: null });
  });

  it("answers null for text that is not a JWT", () => {
    expect(readClaims("not a token")).toBeNull();
    expect(readClaims("a.b.c")).toBeNull();
    expect(readClaims(jwt("a string"))).toBeNull();
  });
});
