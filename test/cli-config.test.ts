// @vitest-environment node
/**
 * The CLI's files in `~/.ias`, shared with the deployed IAS runner (SPEC §12): auth.json in the
 * runner's layout (read back by a reader written to the runner's rules, test/support/runner-files),
 * the old layout converted, worker.json in the runner's layout, which login a command uses, and
 * unusable files explained in a sentence (exit 1, not 2).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { forgetLogin, readAuthStore, saveLogin, type Login } from "../scripts/cli/auth-file";
import { ConfigError } from "../scripts/cli/files";
import { describeError } from "../scripts/cli/output";
import { chooseLogin } from "../scripts/cli/session";
import { mappingsFor, readWorkerFile, withMapping } from "../scripts/cli/worker-file";
import { runnerFindLogin, writeRunnerFile } from "./support/runner-files";

const homes: string[] = [];
const freshHome = () => {
  const home = mkdtempSync(join(tmpdir(), "ias-cli-config-"));
  homes.push(home);
  return join(home, ".ias"); // not created yet, as on a new machine
};
afterAll(() => homes.forEach((home) => rmSync(home, { recursive: true, force: true })));
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const newLogin = (fields: Partial<Login> = {}) => ({
  siteUrl: "https://happy-otter-123.convex.site",
  workspaceSlug: "acme",
  workspaceId: "ws_acme",
  token: "ias_new",
  source: "provided",
  savedAt: "2025-01-02T00:00:00.000Z",
  ...fields,
});

/** A file the runner wrote: two deployments, two workspaces, its own fields, one entry ias cannot read. */
const RUNNER_AUTH = {
  version: 1,
  runnerOwnTopLevel: { keep: true },
  entries: [
    {
      convexDeploymentUrl: "https://happy-otter-123.convex.cloud/",
      workspaceSlug: "acme",
      workspaceId: "ws_acme",
      token: "ias_old_acme",
      expiresAt: 4_102_444_800_000,
      runnerField: "kept",
    },
    {
      convexDeploymentUrl: "https://happy-otter-123.convex.cloud",
      workspaceSlug: "beta",
      workspaceId: "ws_beta",
      token: "ias_beta",
    },
    {
      convexDeploymentUrl: "https://other-fox-9.convex.cloud",
      workspaceSlug: "acme",
      workspaceId: "ws_x",
      token: "ias_x",
    },
    { somethingElse: "not a login ias can read" },
  ],
};

describe("auth.json in the runner's layout", () => {
  test("a login ias saves is found by the runner's rules; file 0600 in a 0700 folder", () => {
    const home = freshHome();
    const saved = saveLogin(home, newLogin());
    expect(saved.convexDeploymentUrl).toBe("https://happy-otter-123.convex.cloud");
    expect(runnerFindLogin(home, "https://happy-otter-123.convex.cloud/", "acme")).toMatchObject({
      token: "ias_new",
      workspaceId: "ws_acme",
    });
    expect(statSync(join(home, "auth.json")).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(readJson(join(home, "auth.json"))).toEqual({
      version: 1,
      entries: [
        {
          convexDeploymentUrl: "https://happy-otter-123.convex.cloud",
          workspaceSlug: "acme",
          workspaceId: "ws_acme",
          token: "ias_new",
          source: "provided",
          savedAt: "2025-01-02T00:00:00.000Z",
        },
      ],
    });
  });

  test("a runner-written file survives a login: every entry and field kept, the matching one updated in place", () => {
    const home = freshHome();
    writeRunnerFile(home, "auth.json", RUNNER_AUTH);
    saveLogin(home, newLogin()); // the .convex.site spelling of the first entry's deployment
    const after = readJson(join(home, "auth.json"));
    expect(after.runnerOwnTopLevel).toEqual({ keep: true });
    expect(after.entries).toHaveLength(4);
    expect(after.entries[0]).toEqual({
      convexDeploymentUrl: "https://happy-otter-123.convex.cloud/", // the runner's spelling stays
      workspaceSlug: "acme",
      workspaceId: "ws_acme",
      token: "ias_new",
      runnerField: "kept",
      source: "provided",
      savedAt: "2025-01-02T00:00:00.000Z",
    }); // its expiresAt was the old token's
    expect(after.entries.slice(1)).toEqual(RUNNER_AUTH.entries.slice(1));
    expect(runnerFindLogin(home, "https://happy-otter-123.convex.cloud", "acme")!.token).toBe("ias_new");
    expect(runnerFindLogin(home, "https://happy-otter-123.convex.cloud", "beta")!.token).toBe("ias_beta");
  });

  test("logout forgets only its own deployment and workspace", () => {
    const home = freshHome();
    writeRunnerFile(home, "auth.json", RUNNER_AUTH);
    forgetLogin(home, "https://happy-otter-123.convex.site", "acme");
    expect(readJson(join(home, "auth.json")).entries).toEqual(RUNNER_AUTH.entries.slice(1));
  });

  test("ias reads the runner's entries: both spellings match, expired ones are skipped, unreadable ones kept", () => {
    const home = freshHome();
    const now = Date.parse("2030-01-01T00:00:00Z");
    writeRunnerFile(home, "auth.json", {
      version: 1,
      entries: [
        ...RUNNER_AUTH.entries,
        { ...RUNNER_AUTH.entries[2], workspaceSlug: "ms", expiresAt: now - 1 },
        { ...RUNNER_AUTH.entries[2], workspaceSlug: "seconds", expiresAt: Math.floor(now / 1000) - 1 },
        { ...RUNNER_AUTH.entries[2], workspaceSlug: "iso", expiresAt: "2029-12-31T23:59:59Z" },
        { ...RUNNER_AUTH.entries[2], workspaceSlug: "future", expiresAt: "2031-01-01T00:00:00Z" },
      ],
    });
    const store = readAuthStore(home, now);
    expect(store.logins.map((login) => [login.siteUrl, login.workspaceSlug])).toEqual([
      ["https://happy-otter-123.convex.site", "acme"],
      ["https://happy-otter-123.convex.site", "beta"],
      ["https://other-fox-9.convex.site", "acme"],
      ["https://other-fox-9.convex.site", "future"],
    ]);
    expect(store.expired.map((login) => login.workspaceSlug)).toEqual(["ms", "seconds", "iso"]);
    expect(store.unreadable).toBe(1);
  });

  test("the old {current, logins} layout is converted on first use, for both tools", () => {
    const home = freshHome();
    const old = (siteUrl: string, slug: string) => ({
      siteUrl,
      workspaceSlug: slug,
      workspaceId: `ws_${slug}`,
      token: `ias_${slug}`,
      source: "device",
      savedAt: "2024-05-01T00:00:00.000Z",
    });
    writeRunnerFile(home, "auth.json", {
      current: "http://127.0.0.1:3211#local",
      logins: {
        "http://127.0.0.1:3211#local": old("http://127.0.0.1:3211", "local"),
        "https://happy-otter-123.convex.site#acme": old("https://happy-otter-123.convex.site", "acme"),
      },
    });
    const store = readAuthStore(home);
    expect(store.logins.map((login) => login.workspaceSlug)).toEqual(["acme", "local"]); // current last
    const converted = readJson(join(home, "auth.json"));
    expect(converted.version).toBe(1);
    expect(converted).not.toHaveProperty("logins");
    expect(runnerFindLogin(home, "https://happy-otter-123.convex.cloud", "acme")!.token).toBe("ias_acme");
    expect(runnerFindLogin(home, "http://127.0.0.1:3211", "local")!.token).toBe("ias_local");
    expect(statSync(join(home, "auth.json")).mode & 0o777).toBe(0o600);
  });
});

describe("which login a command uses", () => {
  const login = (siteUrl: string, workspaceSlug: string, savedAt?: string): Login => ({
    siteUrl,
    convexDeploymentUrl: siteUrl,
    workspaceSlug,
    workspaceId: `${workspaceSlug}-id`,
    token: "ias_x",
    savedAt,
  });
  const a = login("https://a.convex.site", "alpha", "2025-01-01");
  const b = login("https://a.convex.site", "beta", "2025-03-01");
  const c = login("http://127.0.0.1:3211", "alpha", "2025-02-01");
  const choose = (logins: Login[], wanted = {}, file = {}) => chooseLogin(logins, wanted, file, "/home/x/.ias");

  test("flags pick one; without them the one saved last", () => {
    expect(choose([a, b, c])).toEqual({ login: b });
    expect(choose([a, b, c], { url: "https://a.convex.site", workspace: "alpha" })).toEqual({ login: a });
    expect(choose([a, b, c], { url: "http://127.0.0.1:3211" })).toEqual({ login: c });
    expect(() => choose([a, b, c], { workspace: "alpha" })).toThrow(/Several stored logins match/);
    expect(() => choose([a, b, c], { workspace: "gamma" })).toThrow(/Not logged in to workspace "gamma"/);
    expect(() => choose([])).toThrow(/Not logged in\. Run: ias auth login/);
  });

  test("runner-written entries (no savedAt): worker.json's controlPlane decides, else the only one", () => {
    const r1 = login("https://a.convex.site", "alpha");
    const r2 = login("https://b.convex.site", "beta");
    const controlPlane = { convexDeploymentUrl: "https://b.convex.cloud/", workspaceSlug: "beta" };
    expect(choose([r1, r2], {}, { controlPlane })).toEqual({ login: r2 });
    expect(choose([r1])).toEqual({ login: r1 });
    expect(() => choose([r1, r2])).toThrow(/Several stored logins/);
  });

  test("with no stored login, worker.json's httpServiceToken serves its controlPlane", () => {
    const controlPlane = {
      convexDeploymentUrl: "https://b.convex.cloud",
      workspaceSlug: "beta",
      httpServiceToken: "svc",
    };
    expect(choose([], {}, { controlPlane })).toEqual({
      serviceToken: expect.objectContaining({ siteUrl: "https://b.convex.site", workspaceSlug: "beta", token: "svc" }),
    });
    expect(() => choose([], { workspace: "other" }, { controlPlane })).toThrow(/Not logged in/);
  });
});

const RUNNER_WORKER = {
  controlPlane: { convexDeploymentUrl: "https://happy-otter-123.convex.cloud", workspaceSlug: "acme" },
  worker: { displayName: "build-box", machineFingerprint: "fp-runner" },
  repos: { mappings: [{ repoId: "repo_runner", localPath: "/src/runner-repo", runnerNote: "kept" }] },
  capabilities: { executionModes: ["hybrid"], canWrite: true, enforcedAllowlistHash: "abc", futureKey: 1 },
  runnerOnly: { keep: [1, 2] },
};
const acme = {
  siteUrl: "https://happy-otter-123.convex.site",
  convexDeploymentUrl: "https://happy-otter-123.convex.cloud",
  workspaceSlug: "acme",
  workspaceId: "ws_acme",
};

describe("worker.json in the runner's layout", () => {
  test("the runner's mappings belong to its controlPlane's workspace; a new one keeps every other key", () => {
    const home = freshHome();
    writeRunnerFile(home, "worker.json", RUNNER_WORKER);
    const file = readWorkerFile(home);
    expect(mappingsFor(file, acme).map((mapping) => mapping.repoId)).toEqual(["repo_runner"]);
    expect(mappingsFor(file, { ...acme, workspaceSlug: "other", workspaceId: "ws_other" })).toEqual([]);

    const linked = withMapping(file, acme, { repoId: "repo_new", localPath: "/src/new", remoteUrlHash: "h" });
    expect(linked).toEqual({
      ...RUNNER_WORKER,
      repos: {
        mappings: [
          RUNNER_WORKER.repos.mappings[0],
          {
            repoId: "repo_new",
            localPath: "/src/new",
            remoteUrlHash: "h",
            workspaceId: "ws_acme",
            convexDeploymentUrl: "https://happy-otter-123.convex.cloud",
          },
        ],
      },
    });
    // Linking the runner's checkout again replaces its mapping, keeping the runner's fields.
    const relinked = withMapping(linked, acme, {
      repoId: "repo_runner",
      localPath: "/src/runner-repo",
      remoteUrlHash: "h2",
    });
    expect(relinked.repos!.mappings!.find((mapping) => mapping.repoId === "repo_runner")).toMatchObject({
      runnerNote: "kept",
      remoteUrlHash: "h2",
      workspaceId: "ws_acme",
    });
    expect(relinked.repos!.mappings).toHaveLength(2);
  });

  test("the old ias layout is converted on first use: settings under ias, mappings with localPath", () => {
    const home = freshHome();
    writeRunnerFile(home, "worker.json", {
      machineId: "m1",
      displayName: "laptop",
      command: ["bash", "job.sh"],
      leaseMs: 10_000,
      capabilities: { canWrite: true },
      repos: {
        mappings: [
          {
            siteUrl: acme.siteUrl,
            workspaceId: "ws_acme",
            repoId: "r1",
            path: "/src/a",
            label: "a",
            remoteUrlHash: "h",
          },
        ],
      },
    });
    const file = readWorkerFile(home);
    expect(file).toEqual({
      capabilities: { canWrite: true },
      worker: { displayName: "laptop", machineFingerprint: "m1" },
      repos: {
        mappings: [
          {
            workspaceId: "ws_acme",
            repoId: "r1",
            localPath: "/src/a",
            label: "a",
            remoteUrlHash: "h",
            convexDeploymentUrl: acme.convexDeploymentUrl,
          },
        ],
      },
      ias: { command: ["bash", "job.sh"], leaseMs: 10_000 },
    });
    expect(readJson(join(home, "worker.json"))).toEqual(file);
    expect(mappingsFor(file, acme).map((mapping) => mapping.localPath)).toEqual(["/src/a"]);
  });
});

describe("an unusable file is explained in a sentence that says what to change", () => {
  const explain = (name: "auth.json" | "worker.json", content: string) => {
    const home = freshHome();
    writeRunnerFile(home, name, {});
    writeFileSync(join(home, name), content);
    try {
      if (name === "auth.json") readAuthStore(home);
      else readWorkerFile(home);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const described = describeError(error);
      expect(described.exitCode).toBe(1); // a config problem is not a usage error (2)
      return described.message.replace(home, "~/.ias");
    }
    throw new Error("no error");
  };

  test.each([
    [
      "broken JSON",
      "worker.json",
      '{\n  "ias": {\n    "leaseMs": 10,\n  }\n}',
      /^~\/\.ias\/worker\.json is not valid JSON \(.*at line 4, column 3\); fix it, or move the file away to start over\.$/,
    ],
    [
      "a lease of the wrong type",
      "worker.json",
      JSON.stringify({ ias: { leaseMs: "60s" } }),
      /^"ias\.leaseMs" in ~\/\.ias\/worker\.json must be a number \(milliseconds\), not a string; change it, or remove it to use the default\.$/,
    ],
    [
      "a fractional lease",
      "worker.json",
      JSON.stringify({ ias: { leaseMs: 1.5 } }),
      /^"ias\.leaseMs" in ~\/\.ias\/worker\.json must be a whole number \(milliseconds\); change it, or remove it to use the default\.$/,
    ],
    [
      "a mapping without its path",
      "worker.json",
      JSON.stringify({ repos: { mappings: [{ repoId: "r1" }] } }),
      /^"repos\.mappings\.0\.localPath" is missing in ~\/\.ias\/worker\.json; add it \(the checkout's absolute path; "ias repo link" in the checkout writes it\)\.$/,
    ],
    [
      "a command that is a number",
      "worker.json",
      JSON.stringify({ ias: { command: 42 } }),
      /^"ias\.command" in ~\/\.ias\/worker\.json must be the job command as argv, e\.g\. \["bash", "-c", "my-agent"\], or one shell line; change it, or remove it to use the default\.$/,
    ],
    [
      "an auth.json of another version",
      "auth.json",
      JSON.stringify({ version: 2, entries: [] }),
      /^"version" in ~\/\.ias\/auth\.json must be 1 \(this layout is version 1\); change it\.$/,
    ],
    ["a list instead of an object", "auth.json", "[]", /^~\/\.ias\/auth\.json must hold a JSON object/],
  ])("%s", (_name, file, content, sentence) => {
    expect(explain(file as "auth.json" | "worker.json", content)).toMatch(sentence);
  });
});
