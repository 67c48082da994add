/**
 * The browser side of routes.ts: the current route as React state, and links that work from
 * the app's root and from the device page's path alike.
 */
import { useEffect, useState } from "react";
import { DEVICE_PATH, hrefOf, parseRoute, type Route } from "./routes";

/** Where the Console's index.html lives: the path without `/auth/device` (any static host). */
export function appBase(pathname = window.location.pathname): string {
  const trimmed = pathname.replace(/\/+$/, "");
  const base = trimmed.endsWith(DEVICE_PATH) ? trimmed.slice(0, -DEVICE_PATH.length) : pathname;
  return base.endsWith("/") ? base : `${base}/`;
}

/** An href for `route`; hash links stay in this document when it is the app's root. */
export function linkTo(route: Route): string {
  const href = hrefOf(route);
  if (route.page === "device") return `${appBase().replace(/\/$/, "")}${href}`;
  return window.location.pathname === appBase() ? href : `${appBase()}${href}`;
}

export function navigate(route: Route) {
  const href = linkTo(route);
  if (href.startsWith("#")) window.location.hash = href;
  else window.location.assign(href);
}

function currentRoute(): Route {
  return parseRoute(window.location.pathname, window.location.search, window.location.hash);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener("hashchange", update);
    window.addEventListener("popstate", update);
    return () => {
      window.removeEventListener("hashchange", update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return route;
}
