// A very small client router over the History API, under the app's base path (/ui/).

import { useEffect, useState } from "react";

const BASE = import.meta.env.BASE_URL; // "/ui/"

export type Route =
  | { page: "inbox" }
  | { page: "item"; id: string }
  | { page: "admin" }
  | { page: "audit" }
  | { page: "missing"; path: string };

export function parseRoute(pathname: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname.replace(/^\//, "");
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return { page: "inbox" };
  if (parts[0] === "items" && parts.length === 2 && parts[1]) {
    return { page: "item", id: decodeURIComponent(parts[1]) };
  }
  if (parts.length === 1 && parts[0] === "admin") return { page: "admin" };
  if (parts.length === 1 && parts[0] === "audit") return { page: "audit" };
  return { page: "missing", path };
}

export function href(path: string): string {
  return BASE + path.replace(/^\//, "");
}

const EVENT = "countersign:navigate";

export function navigate(path: string): void {
  window.history.pushState(null, "", href(path));
  window.dispatchEvent(new Event(EVENT));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener("popstate", update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return route;
}
