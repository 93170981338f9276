import { afterEach, describe, expect, it, vi } from "vitest";

import { ApiError, errorFromResponse, setToken, setUnauthorizedHandler } from "../api";

function answer(status: number, body: unknown): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

afterEach(() => {
  setToken(null);
  setUnauthorizedHandler(null);
});

describe("errorFromResponse", () => {
  it("keeps the service's code and detail", async () => {
    const error = await errorFromResponse(answer(409, { detail: "Already decided.", code: "already_decided" }), null);
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.code, error.detail]).toEqual([409, "already_decided", "Already decided."]);
  });

  it("lists FastAPI validation errors by field, without the body prefix", async () => {
    const detail = [{ loc: ["body", "decision", "type"], msg: "Field required" }, { loc: ["query", "limit"], msg: "too big" }];
    const error = await errorFromResponse(answer(422, { detail, code: "invalid_input" }), null);
    expect(error.detail).toBe("decision.type: Field required; query.limit: too big");
  });

  it("falls back to the status when the body is not JSON", async () => {
    const error = await errorFromResponse(new Response("<html>bad gateway</html>", { status: 502 }), null);
    expect([error.code, error.detail]).toEqual(["http_502", "HTTP 502"]);
  });

  it("signs out on a 401 only for the token still in use", async () => {
    const signedOut = vi.fn();
    setUnauthorizedHandler(signedOut);
    setToken("current");
    await errorFromResponse(answer(401, { detail: "Expired.", code: "not_authenticated" }), "earlier");
    expect(signedOut).not.toHaveBeenCalled();
    await errorFromResponse(answer(401, { detail: "Expired.", code: "not_authenticated" }), "current");
    expect(signedOut).toHaveBeenCalledTimes(1);
  });
});
