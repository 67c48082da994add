// @vitest-environment node
/**
 * The CLI's pure parts: remote URL normalisation, site URL rules, back-off and the HTTP client's
 * envelope and retry rules. (Config files: cli-config.test.ts; the log spool: cli-spool.test.ts;
 * parsing, help and output: cli-output.test.ts.)
 */
import { describe, expect, test } from "vitest";
import { backoffDelay } from "../scripts/cli/backoff";
import { ApiClient, ApiError, NetworkError } from "../scripts/cli/client";
import { normalizeRemoteUrl, redactCredentials, remoteUrlHash, RemoteUrlError, repoLabel } from "../scripts/cli/remote";
import { SiteUrlError, toSiteUrl } from "../scripts/cli/url";

describe("remote URL normalisation", () => {
  test("every way of cloning one repository normalises to host/owner/repo", () => {
    const forms = [
      "https://github.com/acme/widgets",
      "https://github.com/acme/widgets.git",
      "https://github.com/acme/widgets/",
      "https://user:s3cret@github.com/acme/widgets.git",
      "http://GitHub.COM/acme/widgets",
      "https://github.com:443/acme/widgets",
      "git@github.com:acme/widgets.git",
      "git@GitHub.com:acme/widgets",
      "github.com:acme/widgets.git",
      "ssh://git@github.com/acme/widgets.git",
      "ssh://git@github.com:22/acme/widgets.git/",
      "git+ssh://git@github.com/acme//widgets.git",
      "git://github.com/acme/widgets.git",
      "  https://github.com/acme/widgets.git\n",
    ];
    for (const form of forms) expect(normalizeRemoteUrl(form), form).toBe("github.com/acme/widgets");
    expect(new Set(forms.map(remoteUrlHash)).size).toBe(1);
    expect(remoteUrlHash(forms[0]!)).toMatch(/^[0-9a-f]{64}$/);
  });

  test("keeps what distinguishes repositories: path case, non-default ports, other hosts", () => {
    expect(normalizeRemoteUrl("https://github.com/Acme/Widgets.git")).toBe("github.com/Acme/Widgets");
    expect(normalizeRemoteUrl("ssh://git@git.example.com:2222/team/app.git")).toBe("git.example.com:2222/team/app");
    expect(normalizeRemoteUrl("https://gitlab.example.com/group/sub/app.git")).toBe("gitlab.example.com/group/sub/app");
    expect(remoteUrlHash("https://github.com/acme/widgets")).not.toBe(remoteUrlHash("https://github.com/acme/gadgets"));
  });

  test("local remotes, labels, redaction and unreadable input", () => {
    expect(normalizeRemoteUrl("/srv/git/app.git")).toBe("file:/srv/git/app");
    expect(normalizeRemoteUrl("file:///srv/git/app.git/")).toBe("file:/srv/git/app");
    expect(repoLabel("git@github.com:acme/widgets.git")).toBe("widgets");
    expect(redactCredentials("https://user:tok@github.com/acme/w.git")).toBe("https://github.com/acme/w.git");
    expect(() => normalizeRemoteUrl("")).toThrow(RemoteUrlError);
    expect(() => normalizeRemoteUrl("not a remote")).toThrow(RemoteUrlError);
    expect(() => normalizeRemoteUrl("https://github.com/")).toThrow(/no repository path/);
    expect(() => normalizeRemoteUrl("https://github.com/acme/%E0%A4%A")).toThrow(/invalid percent-encoding/);
    expect(() => normalizeRemoteUrl("file:///srv/%zz.git")).toThrow(RemoteUrlError);
  });
});

describe("site URL rules", () => {
  test("deployment, site and API URLs all become the site origin", () => {
    expect(toSiteUrl("https://happy-otter-123.convex.cloud")).toBe("https://happy-otter-123.convex.site");
    expect(toSiteUrl("https://happy-otter-123.convex.site/")).toBe("https://happy-otter-123.convex.site");
    expect(toSiteUrl("https://Happy-Otter-123.convex.site/control-plane")).toBe("https://happy-otter-123.convex.site");
    expect(toSiteUrl("happy-otter-123.convex.cloud")).toBe("https://happy-otter-123.convex.site");
  });

  test("plain http only on loopback", () => {
    expect(toSiteUrl("http://127.0.0.1:3211")).toBe("http://127.0.0.1:3211");
    expect(toSiteUrl("http://localhost:3211/control-plane/")).toBe("http://localhost:3211");
    expect(toSiteUrl("127.0.0.1:3211")).toBe("http://127.0.0.1:3211");
    expect(toSiteUrl("localhost:3211")).toBe("http://localhost:3211");
    expect(() => toSiteUrl("http://example.com")).toThrow(SiteUrlError);
    expect(() => toSiteUrl("http://127.0.0.1.evil.com")).toThrow(/https/);
    expect(() => toSiteUrl("ftp://example.com")).toThrow(SiteUrlError);
  });

  test("refuses credentials, queries, other paths and garbage", () => {
    expect(() => toSiteUrl("https://user:pw@x.convex.site")).toThrow(/user name/);
    expect(() => toSiteUrl("https://x.convex.site/?a=1")).toThrow(/query/);
    expect(() => toSiteUrl("https://x.convex.site/other")).toThrow(/without a path/);
    expect(() => toSiteUrl(" ")).toThrow(/empty/);
  });
});

describe("back-off", () => {
  const policy = { baseMs: 100, maxMs: 1_000, jitter: 0.5 };
  test("doubles per attempt up to the cap", () => {
    const noJitter = () => 0;
    expect([1, 2, 3, 4, 5, 50].map((attempt) => backoffDelay(attempt, policy, noJitter))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });
  test("jitter takes off at most its fraction", () => {
    expect(backoffDelay(3, policy, () => 1)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(300);
    expect(backoffDelay(3, { ...policy, jitter: 0 }, () => 1)).toBe(400);
  });
});

describe("HTTP client", () => {
  const reply = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  function scripted(...answers: Array<Response | Error>) {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const fetch = async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init: init! });
      const next = answers.shift()!;
      if (next instanceof Error) throw next;
      return next;
    };
    const client = new ApiClient({
      siteUrl: "http://127.0.0.1:1",
      token: "ias_test",
      fetch: fetch as typeof globalThis.fetch,
      sleep: async () => {},
    });
    return { client, calls };
  }

  test("returns the top-level success fields and sends the bearer token", async () => {
    const { client, calls } = scripted(reply(200, { ok: true, workerId: "w1" }));
    expect(await client.call("/v1/workers/heartbeat", { a: 1 })).toEqual({ workerId: "w1" });
    expect(calls[0]!.url).toBe("http://127.0.0.1:1/control-plane/v1/workers/heartbeat");
    expect((calls[0]!.init.headers as Record<string, string>).authorization).toBe("Bearer ias_test");
  });

  test("retries network errors and 5xx, then succeeds", async () => {
    const { client, calls } = scripted(
      new TypeError("fetch failed"),
      reply(503, { ok: false, error: "INTERNAL_ERROR", message: "down" }),
      reply(200, { ok: true, n: 1 }),
    );
    expect(await client.call("/v1/x", {})).toEqual({ n: 1 });
    expect(calls).toHaveLength(3);
  });

  test("never retries a 4xx: the server's code reaches the caller", async () => {
    const { client, calls } = scripted(
      reply(409, { ok: false, error: "LEASE_MISMATCH", message: "not yours" }),
      reply(200, { ok: true }),
    );
    const error = await client.call("/v1/jobs/heartbeat", {}).catch((caught) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: "LEASE_MISMATCH", status: 409, message: "not yours" });
    expect(calls).toHaveLength(1);
  });

  test("gives up after its attempts with a NetworkError; non-JSON answers are named", async () => {
    const down = scripted(...Array.from({ length: 5 }, () => new TypeError("fetch failed")));
    await expect(down.client.call("/v1/x", {})).rejects.toBeInstanceOf(NetworkError);
    expect(down.calls).toHaveLength(5);
    const html = scripted(new Response("<html>", { status: 404 }));
    await expect(html.client.call("/v1/x", {})).rejects.toMatchObject({ code: "HTTP_404" });
  });
});
