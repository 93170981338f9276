import { describe, expect, it } from "vitest";

import { formatAge } from "../components/common";

describe("formatAge", () => {
  it("says seconds, minutes, hours and days as a reviewer reads them", () => {
    expect(formatAge(-3)).toBe("0 s");
    expect(formatAge(59.9)).toBe("59 s");
    expect(formatAge(60)).toBe("1 min");
    expect(formatAge(3 * 3600 + 5 * 60)).toBe("3 h 5 min");
    expect(formatAge(3 * 86400)).toBe("3 d");
  });
});
