// @vitest-environment node
/**
 * The Console's pure parts (scripts/console/): routes and links, formatting, which deployment
 * it talks to, what the build accepts as a deployment URL, which paths the local server serves.
 */
import { describe, expect, test } from "vitest";
import { activitySince, msUntilNextBucket } from "../scripts/console/app/activityWindow";
import { convexUrlOf } from "../scripts/console/app/config";
import { bucketJobsByStatus } from "../convex/model/jobActivity";
import { excerpt, errorText, relativeTime, shortId, slugFromName, workerState } from "../scripts/console/app/format";
import { hrefOf, parseRoute, type Route } from "../scripts/console/app/routes";
import { checkConvexUrl, configScript } from "../scripts/console/build";
import { consolePathOf } from "../scripts/console/serve";
import { isValidSlug } from "../convex/model/slug";
import { ConvexError } from "convex/values";

describe("routes", () => {
  const at = (hash: string, pathname = "/", search = "") => parseRoute(pathname, search, hash);

  test("hash routes name the page and its workspace", () => {
    expect(at("")).toEqual({ page: "home" });
    expect(at("#/")).toEqual({ page: "home" });
    expect(at("#/new-workspace")).toEqual({ page: "new-workspace" });
    expect(at("#/w/acme")).toEqual({ page: "queue", slug: "acme", filters: {} });
    expect(at("#/w/acme/queue?status=failed&kind=pr_review&repo=r1")).toEqual({
      page: "queue",
      slug: "acme",
      filters: { status: "failed", kind: "pr_review", repoId: "r1" },
    });
    expect(at("#/w/acme/jobs/j1")).toEqual({ page: "job", slug: "acme", jobId: "j1" });
    expect(at("#/w/acme/workers")).toEqual({ page: "workers", slug: "acme" });
    expect(at("#/w/acme/triggers")).toEqual({ page: "triggers", slug: "acme" });
    expect(at("#/w/acme/inbox")).toEqual({ page: "inbox", slug: "acme", view: "open", decisionId: undefined });
    expect(at("#/w/acme/inbox/d1?view=all")).toEqual({ page: "inbox", slug: "acme", view: "all", decisionId: "d1" });
  });

  test("unknown filters are dropped, unknown pages are not-found", () => {
    expect(at("#/w/acme/queue?status=claimed&kind=nope")).toEqual({ page: "queue", slug: "acme", filters: {} });
    expect(at("#/w/acme/jobs")).toEqual({ page: "not-found", slug: "acme" });
    expect(at("#/w/acme/workers/x")).toEqual({ page: "not-found", slug: "acme" });
    expect(at("#/elsewhere")).toEqual({ page: "not-found" });
  });

  test("the device page is a path, where deployments' approval URLs point", () => {
    expect(at("", "/auth/device", "?id=dev_abc")).toEqual({ page: "device", deviceId: "dev_abc" });
    expect(at("#/w/acme", "/auth/device/", "?id=dev_abc")).toEqual({ page: "device", deviceId: "dev_abc" });
    expect(at("", "/auth/device", "")).toEqual({ page: "device", deviceId: "" });
  });

  test("every route's href reads back as the same route", () => {
    const routes: Route[] = [
      { page: "home" },
      { page: "new-workspace" },
      { page: "queue", slug: "acme", filters: {} },
      { page: "queue", slug: "acme", filters: { status: "running", repoId: "r 1", kind: "work" } },
      { page: "job", slug: "team-2", jobId: "abc" },
      { page: "workers", slug: "acme" },
      { page: "triggers", slug: "acme" },
      { page: "inbox", slug: "acme", view: "all", decisionId: "d1" },
      { page: "inbox", slug: "acme", view: "open", decisionId: undefined },
    ];
    for (const route of routes) expect(at(hrefOf(route))).toEqual(route);
    const device = hrefOf({ page: "device", deviceId: "dev_a&b" });
    expect(device).toBe("/auth/device?id=dev_a%26b");
    expect(parseRoute("/auth/device", device.slice(device.indexOf("?")), "")).toEqual({
      page: "device",
      deviceId: "dev_a&b",
    });
  });
});

describe("format", () => {
  const now = 1_000_000_000;
  test("relative times", () => {
    expect(relativeTime(now - 2_000, now)).toBe("just now");
    expect(relativeTime(now - 42_000, now)).toBe("42 s ago");
    expect(relativeTime(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(relativeTime(now - 3 * 3_600_000, now)).toBe("3 h ago");
    expect(relativeTime(now - 2 * 86_400_000, now)).toBe("2 d ago");
    expect(relativeTime(now + 30_000, now)).toBe("in 30 s");
  });

  test("ids, excerpts, worker states", () => {
    expect(shortId("k57abcdefghij")).toBe("…efghij");
    expect(shortId("short")).toBe("short");
    expect(excerpt("first line\nsecond")).toBe("first line");
    expect(excerpt("x".repeat(100), 10)).toBe(`${"x".repeat(9)}…`);
    expect(workerState({ online: true, status: "draining" })).toBe("draining");
    expect(workerState({ online: false, status: "online" })).toBe("offline");
  });

  test("errors read as their message, with the API code when there is one", () => {
    expect(errorText(new ConvexError({ code: "FORBIDDEN", message: "Not yours." }))).toBe("Not yours. (FORBIDDEN)");
    expect(errorText(new Error("plain"))).toBe("plain");
    expect(errorText("text")).toBe("text");
  });

  test("suggested slugs are valid slugs", () => {
    for (const name of ["Acme Ops", "  Déjà Vu!! ", "x".repeat(60), "a-".repeat(30), "Team #2"]) {
      const slug = slugFromName(name);
      expect(isValidSlug(slug), `${name} → ${slug}`).toBe(true);
    }
    expect(slugFromName("Acme Ops")).toBe("acme-ops");
    expect(slugFromName("Déjà Vu")).toBe("deja-vu");
  });
});

describe("the chart's window", () => {
  const FIVE_MIN = 5 * 60_000;
  const at = Date.UTC(2026, 4, 1, 14, 3, 9); // 14:03:09

  test("twelve 5-minute buckets ending with the current one: a job created just now is drawn", () => {
    const since = activitySince(at);
    expect(since).toBe(Date.UTC(2026, 4, 1, 13, 5, 0)); // 13:05 … 14:05, the last bucket 14:00–14:05
    const buckets = bucketJobsByStatus([{ createdAt: at, status: "pending" }], since);
    expect(buckets).toHaveLength(12);
    expect(buckets[11]).toEqual(expect.objectContaining({ start: Date.UTC(2026, 4, 1, 14, 0, 0) }));
    expect(buckets[11]!.counts.pending).toBe(1);
    // Exactly on a boundary the new bucket is the last one.
    expect(activitySince(Date.UTC(2026, 4, 1, 14, 5, 0))).toBe(Date.UTC(2026, 4, 1, 13, 10, 0));
  });

  test("the window moves when the next bucket starts", () => {
    expect(msUntilNextBucket(at)).toBe(Date.UTC(2026, 4, 1, 14, 5, 0) - at);
    expect(msUntilNextBucket(Date.UTC(2026, 4, 1, 14, 5, 0))).toBe(FIVE_MIN);
  });
});

describe("which deployment", () => {
  test("the configured URL wins, else the page's own origin; trailing slashes go", () => {
    expect(convexUrlOf({ convexUrl: "https://x.convex.cloud/" }, "http://127.0.0.1:3211")).toBe(
      "https://x.convex.cloud",
    );
    expect(convexUrlOf({ convexUrl: null }, "http://127.0.0.1:3211")).toBe("http://127.0.0.1:3211");
    expect(convexUrlOf({ convexUrl: "  " }, "http://127.0.0.1:3211")).toBe("http://127.0.0.1:3211");
    expect(convexUrlOf(undefined, "http://localhost:4000")).toBe("http://localhost:4000");
  });

  test("the build takes a deployment origin and nothing else", () => {
    expect(checkConvexUrl("https://happy-otter-123.convex.cloud/")).toBe("https://happy-otter-123.convex.cloud");
    expect(checkConvexUrl("http://127.0.0.1:3210")).toBe("http://127.0.0.1:3210");
    expect(() => checkConvexUrl("happy-otter-123.convex.cloud")).toThrow(/not a URL/);
    expect(() => checkConvexUrl("ftp://x.convex.cloud")).toThrow(/https:\/\//);
    expect(() => checkConvexUrl("https://x.convex.cloud/api")).toThrow(/origin only/);
    expect(() => checkConvexUrl("https://x.convex.cloud/?a=1")).toThrow(/origin only/);
  });

  test("the config file sets the URL as JSON, so no URL can break out of the string", () => {
    const script = configScript('https://x.convex.cloud"};alert(1);//');
    expect(script).toContain('window.IAS_CONSOLE_CONFIG = {"convexUrl":"https://x.convex.cloud\\"};alert(1);//"};');
  });
});

describe("paths the local server answers with the Console", () => {
  test("the page, the device page and the built files; nothing else", () => {
    expect(consolePathOf("/")).toBe("index.html");
    expect(consolePathOf("/index.html")).toBe("index.html");
    expect(consolePathOf("/auth/device")).toBe("auth/device/index.html");
    expect(consolePathOf("/auth/device/")).toBe("auth/device/index.html");
    expect(consolePathOf("/console/console.js")).toBe("console/console.js");
    for (const other of ["/console/", "/console/a/b.js", "/console/..%2fpackage.json", "/api/query", "/local/device"]) {
      expect(consolePathOf(other), other).toBeNull();
    }
  });
});
