import type { MouseEvent, ReactNode } from "react";

import type { Json, JsonObject } from "../types";

import { ApiError } from "../api";
import { href, navigate } from "../router";

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type Flat = string | number | boolean | null;

/** Args whose values are all plain (a form can edit them field by field). */
export function isFlat(args: JsonObject): args is Record<string, Flat> {
  return Object.values(args).every((v) => v === null || ["string", "number", "boolean"].includes(typeof v));
}

interface LinkProps {
  to: string;
  children: ReactNode;
  className?: string;
  /** The id of the element that describes where the link goes (read after its name). */
  describedBy?: string;
}

export function Link({ to, children, className, describedBy }: LinkProps) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={href(to)} onClick={onClick} className={className} aria-describedby={describedBy}>
      {children}
    </a>
  );
}

/** A human sentence for an API failure; 403 and 404 get their own wording. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 403) return `Not allowed: ${error.detail}`;
    if (error.status === 404) return `Not found: ${error.detail}`;
    if (error.status === 0) return error.detail;
    return `${error.detail} (${error.status} ${error.code})`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorAlert({ error, testId }: { error: unknown; testId?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <div className="alert error" role="alert" data-testid={testId ?? "error"}>
      {describeError(error)}
    </div>
  );
}

export function JsonView({ value, label }: { value: unknown; label?: string }) {
  return (
    <pre className="json" aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

/** "3 min ago": how long ago, from an age in seconds. */
export function formatAgo(seconds: number): string {
  return seconds < 5 ? "just now" : `${formatAge(seconds)} ago`;
}

/** "5 Dec 14:03" in local time (the year too when it is not this year). */
export function formatClock(iso: string | null): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const month = date.toLocaleString(undefined, { month: "short" });
  const year = date.getFullYear() === new Date().getFullYear() ? "" : ` ${date.getFullYear()}`;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getDate()} ${month}${year} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function formatTime(iso: string | null): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function newKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function ArgsTable({ args }: { args: JsonObject }) {
  const entries = Object.entries(args);
  if (entries.length === 0) return <p className="muted">(no arguments)</p>;
  return (
    <table className="args" data-testid="args">
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key}>
            <th scope="row">{key}</th>
            <td className="mono">{typeof value === "string" ? value : JSON.stringify(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
