// @vitest-environment node
/**
 * Group commit through the real local server over a socket: the journal file is a double that
 * records writes and fsyncs and can hold an fsync, so the test sees what is answered when.
 */
import { afterAll, expect, test } from "vitest";
import { openJournalFile, type JournalFile } from "../../scripts/local/journalWriter";
import { startLocalServer } from "../../scripts/local/server";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

const TOKEN = "ias_local_group_commit_test_token_0123456789";

test("commits during an fsync share the next one; no answer, not even a read of a pending commit, precedes its fsync", async () => {
  const events: string[] = [];
  let hold = false;
  let held: Array<() => void> = [];
  const openDouble = (path: string): JournalFile => {
    const real = openJournalFile(path);
    return {
      async write(bytes) {
        const records = Buffer.from(bytes).toString("utf8").trimEnd().split("\n").length;
        events.push(`write ${records}`);
        await real.write(bytes);
      },
      async sync() {
        events.push("fsync start");
        if (hold) await new Promise<void>((resolve) => held.push(resolve));
        await real.sync();
        events.push("fsync done");
      },
      close: () => real.close(),
    };
  };
  const previousToken = process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN;
  process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN = TOKEN;
  const server = await startLocalServer({
    port: 0,
    dataDir: makeTempDir(),
    openJournalFile: openDouble,
    log: () => {},
  });
  const api = async (route: string, body: unknown) => {
    const response = await fetch(`${server.url}/control-plane${route}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return (await response.json()) as Record<string, any>;
  };
  const waitFor = async (condition: () => boolean) => {
    for (let i = 0; i < 2000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(condition()).toBe(true);
  };
  try {
    const workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
    const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "group", status: "active" })).repoId;
    const job = (key: string) => ({ workspaceId, repoId, kind: "work", prompt: `job ${key}`, idempotencyKey: key });
    const answer = (name: string, route: string, body: unknown) =>
      api(route, body).then((result) => {
        events.push(`answer ${name}`);
        return result;
      });

    hold = true;
    events.length = 0;
    const a = answer("a", "/v1/jobs/enqueue", job("a"));
    await waitFor(() => held.length === 1);
    // b reads a's job (same idempotency key: no write of its own); c and d commit.
    const b = answer("b", "/v1/jobs/enqueue", job("a"));
    const c = answer("c", "/v1/jobs/enqueue", job("c"));
    const d = answer("d", "/v1/jobs/enqueue", job("d"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toEqual(["write 1", "fsync start"]); // a's commit is in flight; nobody answered

    const release = () => {
      const waiting = held;
      held = [];
      for (const resolve of waiting) resolve();
    };
    release();
    await waitFor(() => held.length === 1); // the second fsync: c and d together
    hold = false;
    release();
    const [first, reread, third, fourth] = await Promise.all([a, b, c, d]);
    expect(reread).toMatchObject({ jobId: first.jobId, deduplicated: true });
    expect([third.deduplicated, fourth.deduplicated]).toEqual([false, false]);

    const firstDone = events.indexOf("fsync done");
    const secondDone = events.indexOf("fsync done", firstDone + 1);
    expect(events.slice(0, 2)).toEqual(["write 1", "fsync start"]);
    expect(events).toContain("write 2");
    expect(events.filter((event) => event.startsWith("write"))).toEqual(["write 1", "write 2"]); // 3 commits, 2 writes
    for (const name of ["a", "b"]) expect(events.indexOf(`answer ${name}`)).toBeGreaterThan(firstDone);
    for (const name of ["c", "d"]) expect(events.indexOf(`answer ${name}`)).toBeGreaterThan(secondDone);
  } finally {
    hold = false;
    for (const resolve of held) resolve();
    await server.close();
    if (previousToken === undefined) delete process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN;
    else process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN = previousToken;
  }
});
