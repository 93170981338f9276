import { describe, expect, it } from "vitest";

import { SseParser } from "../sse";

describe("SseParser", () => {
  it("parses events split across chunks, with ids and names", () => {
    const parser = new SseParser();
    expect(parser.push("id: 1\nevent: val")).toEqual([]);
    expect(parser.push('ues\ndata: {"a":1}\n\n')).toEqual([
      { id: "1", event: "values", data: '{"a":1}' },
    ]);
  });

  it("joins data lines, skips comments, defaults the name to message", () => {
    const parser = new SseParser();
    expect(parser.push(": keepalive\ndata: one\ndata: two\n\n")).toEqual([
      { id: null, event: "message", data: "one\ntwo" },
    ]);
  });

  it("accepts CRLF and CR line ends, even a CRLF split between chunks", () => {
    const parser = new SseParser();
    expect(parser.push("data: a\r")).toEqual([]);
    expect(parser.push("\n\r\ndata: b\r\r")).toEqual([{ id: null, event: "message", data: "a" }]);
    // the last CR may be half of a CRLF: the event waits for the next chunk
    expect(parser.push("\n")).toEqual([{ id: null, event: "message", data: "b" }]);
  });

  it("keeps the last id for later events and ignores an id with a NUL", () => {
    const parser = new SseParser();
    const events = parser.push("id: 7\ndata: x\n\nid: bad\0id\ndata: y\n\n");
    expect(events.map((e) => e.id)).toEqual(["7", "7"]);
  });

  it("dispatches nothing for an event without data", () => {
    const parser = new SseParser();
    expect(parser.push("event: end\n\n")).toEqual([]);
  });
});
