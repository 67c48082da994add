/**
 * The Console's places and their URLs. Pages live in the hash (`#/w/acme/jobs/<id>`), so the
 * built files work on any static host without rewrites; the one path is `/auth/device?id=`,
 * where deployments' device-login approval URLs point (SPEC §5). Pure: unit-tested.
 */
import { JOB_KINDS, JOB_STATUSES, type JobKind, type JobStatus } from "../../../convex/model/jobs";

export type QueueFilters = { status?: JobStatus; repoId?: string; kind?: JobKind };

export type Route =
  | { page: "home" }
  | { page: "new-workspace" }
  | { page: "device"; deviceId: string }
  | { page: "queue"; slug: string; filters: QueueFilters }
  | { page: "job"; slug: string; jobId: string }
  | { page: "workers"; slug: string }
  | { page: "triggers"; slug: string }
  | { page: "inbox"; slug: string; view: "open" | "all"; decisionId?: string }
  | { page: "not-found"; slug?: string };

export const DEVICE_PATH = "/auth/device";

function oneOf<T extends string>(values: readonly T[], value: string | null): T | undefined {
  return value !== null && (values as readonly string[]).includes(value) ? (value as T) : undefined;
}

/** The route of a location: its path for the device page, else its hash. */
export function parseRoute(pathname: string, search: string, hash: string): Route {
  if (pathname.replace(/\/+$/, "") === DEVICE_PATH) {
    return { page: "device", deviceId: new URLSearchParams(search).get("id") ?? "" };
  }
  const [path = "", query = ""] = hash.replace(/^#/, "").split("?", 2);
  const params = new URLSearchParams(query);
  const parts = path
    .split("/")
    .filter((part) => part !== "")
    .map(decodeURIComponent);
  if (parts.length === 0) return { page: "home" };
  if (parts[0] === "new-workspace" && parts.length === 1) return { page: "new-workspace" };
  if (parts[0] !== "w" || parts[1] === undefined) return { page: "not-found" };
  const slug = parts[1];
  const [section, id, ...rest] = parts.slice(2);
  if (rest.length > 0) return { page: "not-found", slug };
  if (section === undefined || (section === "queue" && id === undefined)) {
    const filters: QueueFilters = {
      status: oneOf(JOB_STATUSES, params.get("status")),
      kind: oneOf(JOB_KINDS, params.get("kind")),
      repoId: params.get("repo") || undefined,
    };
    return { page: "queue", slug, filters };
  }
  if (section === "jobs" && id !== undefined) return { page: "job", slug, jobId: id };
  if (section === "workers" && id === undefined) return { page: "workers", slug };
  if (section === "triggers" && id === undefined) return { page: "triggers", slug };
  if (section === "inbox") {
    return { page: "inbox", slug, view: params.get("view") === "all" ? "all" : "open", decisionId: id };
  }
  return { page: "not-found", slug };
}

/** The hash (or, for the device page, path) that shows `route`; parseRoute reads it back. */
export function hrefOf(route: Route): string {
  const w = (slug: string) => `#/w/${encodeURIComponent(slug)}`;
  switch (route.page) {
    case "home":
      return "#/";
    case "new-workspace":
      return "#/new-workspace";
    case "device":
      return `${DEVICE_PATH}?id=${encodeURIComponent(route.deviceId)}`;
    case "queue": {
      const params = new URLSearchParams();
      if (route.filters.status) params.set("status", route.filters.status);
      if (route.filters.repoId) params.set("repo", route.filters.repoId);
      if (route.filters.kind) params.set("kind", route.filters.kind);
      const query = params.toString();
      return `${w(route.slug)}/queue${query ? `?${query}` : ""}`;
    }
    case "job":
      return `${w(route.slug)}/jobs/${encodeURIComponent(route.jobId)}`;
    case "workers":
      return `${w(route.slug)}/workers`;
    case "triggers":
      return `${w(route.slug)}/triggers`;
    case "inbox": {
      const base = `${w(route.slug)}/inbox${route.decisionId ? `/${encodeURIComponent(route.decisionId)}` : ""}`;
      return route.view === "all" ? `${base}?view=all` : base;
    }
    case "not-found":
      return route.slug === undefined ? "#/" : w(route.slug);
  }
}

export function slugOf(route: Route): string | undefined {
  return "slug" in route ? route.slug : undefined;
}
