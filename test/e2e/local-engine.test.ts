// @vitest-environment node
/**
 * The durable engine in process: convex-test with the journal attached, "restarted" by opening
 * a second engine on the same data directory.
 */
import { cronJobs } from "convex/server";
import { afterAll, describe, expect, test } from "vitest";
import { internal } from "../../convex/_generated/api";
import { rearmScheduledFunctions } from "../../scripts/local/scheduled";
import { startLocalServer } from "../../scripts/local/server";
import { localModules as modules, openEngine } from "../support/local-engine";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

type RawDb = { insert(table: string, value: Record<string, unknown>): string };

describe("durable engine", () => {
  test("queries see each table's committed, pending and deleted documents exactly, across a restart", async () => {
    const dir = makeTempDir();
    const first = await openEngine(dir);
    const [keep, drop] = await first.engine.t.run(async (ctx) => [
      await ctx.db.insert("users", { name: "Keep" }),
      await ctx.db.insert("users", { name: "Drop" }),
    ]);
    await first.engine.t.run((ctx) =>
      ctx.db.insert("workspaces", { slug: "other", name: "Other", dataPolicy: "full" }),
    );
    await first.engine.t.run((ctx) => ctx.db.delete(drop));
    const seenInTransaction = await first.engine.t.run(async (ctx) => {
      await ctx.db.insert("users", { name: "Pending" });
      await ctx.db.patch(keep, { name: "Kept" });
      return (await ctx.db.query("users").collect()).map((user) => user.name);
    });
    expect(seenInTransaction).toEqual(["Kept", "Pending"]);
    await expect(
      first.engine.t.run(async (ctx) => {
        await ctx.db.insert("users", { name: "Rolled back" });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    await first.store.close();

    const second = await openEngine(dir);
    const names = await second.engine.t.run(async (ctx) =>
      (await ctx.db.query("users").collect()).map((user) => user.name),
    );
    expect(names).toEqual(["Kept", "Pending"]);
    const slugs = await second.engine.t.run(async (ctx) =>
      (await ctx.db.query("workspaces").collect()).map((w) => w.slug),
    );
    expect(slugs).toEqual(["other"]);
    await second.store.close();
  });

  test("committed writes survive a restart; ids and creation times keep increasing", async () => {
    const dir = makeTempDir();
    const first = await openEngine(dir);
    const created = await first.engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
    const userId = await first.engine.t.run((ctx) => ctx.db.insert("users", { name: "Before" }));
    await first.engine.t.run(async (ctx) => {
      await ctx.db.patch(userId, { name: "Patched" });
    });
    // A mutation that throws commits nothing, so nothing of it may reach the journal.
    await expect(
      first.engine.t.run(async (ctx) => {
        await ctx.db.insert("users", { name: "Rolled back" });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    const before = await first.engine.t.run((ctx) => ctx.db.get(userId));
    await first.store.close();

    const second = await openEngine(dir);
    const again = await second.engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
    expect(again).toEqual({ workspaceId: created.workspaceId, created: false });
    const after = await second.engine.t.run((ctx) => ctx.db.get(userId));
    expect(after).toEqual(before);
    expect(after?.name).toBe("Patched");
    const names = await second.engine.t.run(async (ctx) => (await ctx.db.query("users").collect()).map((u) => u.name));
    expect(names).not.toContain("Rolled back");

    const newUserId = await second.engine.t.run((ctx) => ctx.db.insert("users", { name: "After" }));
    expect(newUserId > userId).toBe(true);
    const newUser = await second.engine.t.run((ctx) => ctx.db.get(newUserId));
    expect(newUser!._creationTime).toBeGreaterThan(before!._creationTime);
    await second.store.close();
  });

  test("query results are released when each transaction ends (a server must not keep them)", async () => {
    const { engine, store } = await openEngine(makeTempDir());
    await engine.t.run(async (ctx) => {
      for (let i = 0; i < 20; i++) await ctx.db.insert("users", { name: `user ${i}` });
    });
    for (let i = 0; i < 5; i++) await engine.t.query(async (ctx: any) => ctx.db.query("users").first());
    // A search query takes convex-test's own path (which keeps its results in `_queryResults`).
    for (let i = 0; i < 5; i++) {
      await engine.t.query(async (ctx: any) =>
        ctx.db
          .query("contextItems")
          .withSearchIndex("search_text", (q: any) => q.search("searchText", "user"))
          .first(),
      );
    }
    expect(engine.queryStats().open).toBe(0);
    await store.close();
  });

  test("stored blobs are written to disk before filesFlushed resolves and read back after restart", async () => {
    const dir = makeTempDir();
    const first = await openEngine(dir);
    const storageId = await first.engine.t.run((ctx) =>
      ctx.storage.store(new Blob(["local bytes"], { type: "text/plain" })),
    );
    await first.engine.filesFlushed();
    await first.store.close();

    const second = await openEngine(dir);
    const text = await second.engine.t.run(async (ctx) => {
      const blob = await ctx.storage.get(storageId);
      return blob === null ? null : { text: await blob.text(), type: blob.type };
    });
    expect(text).toEqual({ text: "local bytes", type: "text/plain" });
    await second.store.close();
  });

  test("scheduled functions left pending by a dead process run after restart; interrupted ones are marked failed", async () => {
    const dir = makeTempDir();
    const first = await openEngine(dir);
    // What a crash leaves behind: rows whose in-memory timers died with the process.
    const [pendingId, interruptedId] = await first.engine.t.run(async () => {
      const db = first.engine.db as unknown as RawDb;
      const row = { name: "workspaces:ensureLocalWorkspace", args: [{ slug: "scheduled" }], scheduledTime: Date.now() };
      return [
        db.insert("_scheduled_functions", { ...row, state: { kind: "pending" } }),
        db.insert("_scheduled_functions", { ...row, args: [{ slug: "never" }], state: { kind: "inProgress" } }),
      ];
    });
    await first.store.close();

    const second = await openEngine(dir);
    const logs: string[] = [];
    const rearmed = rearmScheduledFunctions(second.engine, (message) => logs.push(message));
    await rearmed.markInterrupted();
    const stateOf = (id: string) => (second.engine.db.get("_scheduled_functions", id)?.state as { kind: string }).kind;
    for (let i = 0; i < 1000 && stateOf(pendingId) !== "success"; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stateOf(pendingId)).toBe("success");
    expect(stateOf(interruptedId)).toBe("failed");
    const slugs = await second.engine.t.run(async (ctx) =>
      (await ctx.db.query("workspaces").collect()).map((w) => w.slug),
    );
    expect(slugs).toEqual(["scheduled"]);
    expect(logs.join("\n")).toMatch(/Re-armed 1 scheduled function/);
    rearmed.stop();
    await second.store.close();
  });

  test("startLocalServer runs the jobs of convex/crons.ts when the file exists", async () => {
    const crons = cronJobs();
    crons.interval("make a workspace", { seconds: 1 }, internal.workspaces.ensureLocalWorkspace, { slug: "from-cron" });
    const logs: string[] = [];
    const token = "ias_local_engine_test_token_0123456789abcdef";
    const previousToken = process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN;
    process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN = token;
    const server = await startLocalServer({
      port: 0,
      dataDir: makeTempDir(),
      modules: { ...modules, "../convex/crons.ts": async () => ({ default: crons }) },
      log: (message) => logs.push(message),
    });
    try {
      expect(logs.join("\n")).toMatch(/Running 1 cron job\(s\): make a workspace/);
      const resolve = () =>
        fetch(`${server.url}/control-plane/v1/workspaces/resolve`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify({ slug: "from-cron" }),
        }).then((response) => response.json());
      let found: { workspaceId: string | null } = { workspaceId: null };
      for (let i = 0; i < 400 && found.workspaceId === null; i++) {
        await new Promise((r) => setTimeout(r, 50));
        found = await resolve();
      }
      expect(found.workspaceId).not.toBeNull();
    } finally {
      await server.close();
      if (previousToken === undefined) delete process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN;
      else process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN = previousToken;
    }
  });
});
