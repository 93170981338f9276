import { describe, expect, it } from "vitest";

import { href, parseRoute } from "../router";

const BASE = import.meta.env.BASE_URL; // the base the build is served under

describe("parseRoute", () => {
  it("maps the UI's paths under /ui/ to pages", () => {
    expect(parseRoute(BASE)).toEqual({ page: "inbox" });
    expect(parseRoute(`${BASE}items/abc%3A1`)).toEqual({ page: "item", id: "abc:1" });
    expect(parseRoute(`${BASE}admin`)).toEqual({ page: "admin" });
    expect(parseRoute(`${BASE}audit`)).toEqual({ page: "audit" });
  });

  it("answers missing for anything else, never throws", () => {
    expect(parseRoute(`${BASE}items`)).toEqual({ page: "missing", path: "items" });
    expect(parseRoute(`${BASE}items/a/b`)).toEqual({ page: "missing", path: "items/a/b" });
    expect(parseRoute(`${BASE}nope`)).toEqual({ page: "missing", path: "nope" });
  });

  it("builds links under the base path", () => {
    expect(href("/items/x")).toBe(`${BASE}items/x`);
    expect(href("admin")).toBe(`${BASE}admin`);
  });
});
