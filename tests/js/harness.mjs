// What every script here shares: clients of the official JS SDK for two tenants (TOKEN_A,
// TOKEN_B) against COUNTERSIGN_URL, and the report tests/e2e/js.py reads: one JSON line
// {"checks": [...]} when all pass (exit 0), or the first failed check (exit 1).
import { Client } from "@langchain/langgraph-sdk";

export const url = process.env.COUNTERSIGN_URL;
export const client = (token) =>
  new Client({ apiUrl: url, apiKey: null, defaultHeaders: { Authorization: `Bearer ${token}` } });
export const a = client(process.env.TOKEN_A);
export const b = client(process.env.TOKEN_B);

const checks = [];

export async function check(name, body) {
  try {
    await body();
    checks.push(name);
  } catch (error) {
    console.error(`FAILED ${name}: ${error?.stack ?? error}`);
    console.log(JSON.stringify({ checks, failed: name, error: String(error) }));
    process.exit(1);
  }
}

export async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Prints the report and exits (a stream the SDK left open would keep Node running). */
export function done() {
  console.log(JSON.stringify({ checks }));
  process.exit(0);
}
