/**
 * Worker capabilities kept (SPEC §6 "Workers", §12): every key the runner sends round-trips to the
 * Console worker list; unknown scalar keys are kept within bounds (32 keys, 200 bytes, Convex field
 * names) and the rest dropped, never a 400.
 */
import { beforeEach, describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { ok } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  acme = await queueWorkspace(t, "acme");
});

async function heartbeat(capabilities: Json) {
  return await ok(acme.call, "/v1/workers/heartbeat", {
    workspaceId: acme.workspaceId,
    displayName: "laptop",
    machineFingerprint: "fp-laptop",
    status: "online",
    capabilities,
  });
}

/** The worker's capabilities as the Console lists them. */
async function listed(): Promise<Json> {
  const console = t.withIdentity(acme.member.identity);
  const { page } = await console.query(api.workers.list, {
    workspaceId: acme.workspaceId,
    paginationOpts: { numItems: 10, cursor: null },
  });
  expect(page).toHaveLength(1);
  return page[0]!.capabilities;
}

const runner = () => ({
  executionModes: ["cli", "hybrid"],
  models: ["gpt-5.2"],
  canWrite: true,
  canUseNetwork: false,
  reposAllowed: [acme.repoId],
  supportedEgressModes: ["open"],
  enforcedAllowlistHash: "sha256:0f1e2d3c",
  supportsRunTests: true,
  openaiAuthMode: "codex_cli_sso_supervised",
  modelPolicies: ["require_5_2"],
});

describe("known keys", () => {
  test("every key the runner sends (and modelPolicies) round-trips", async () => {
    await heartbeat(runner());
    expect(await listed()).toEqual(runner());
  });

  test("enforcedAllowlistHash null (the runner's default) is kept as null", async () => {
    await heartbeat({ ...runner(), enforcedAllowlistHash: null });
    expect(await listed()).toMatchObject({ enforcedAllowlistHash: null });
  });

  test("they are stored typed, apart from the unknown ones", async () => {
    const { workerId } = await heartbeat({ ...runner(), gpu: "a100" });
    const worker = await t.run(async (ctx) => (await ctx.db.get(workerId as Id<"workers">))!);
    expect(worker.capabilities).toEqual(runner());
    expect(worker.extraCapabilities).toEqual({ gpu: "a100" });
  });
});

describe("unknown keys", () => {
  test("40 unknown scalar keys: the first 32 in key order are kept, whatever order they came in", async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `x${String(i).padStart(2, "0")}`);
    const sent = Object.fromEntries(
      [...keys].reverse().map((key, i) => [key, i % 3 === 0 ? i : i % 3 === 1 ? `v${i}` : true]),
    );
    await heartbeat({ ...sent, reposAllowed: [acme.repoId] });
    const kept = await listed();
    const extra = Object.keys(kept).filter((key) => key !== "reposAllowed");
    expect(extra.sort()).toEqual(keys.slice(0, 32));
    for (const key of extra) expect(kept[key]).toEqual(sent[key]);
  });

  test("values and keys over 200 bytes, non-scalars and keys Convex cannot store are dropped; no 400", async () => {
    await heartbeat({
      reposAllowed: [acme.repoId],
      exact: "é".repeat(100),
      tooLong: "é".repeat(100) + "x",
      ["k".repeat(200)]: 1,
      ["k".repeat(201)]: 2,
      nested: { a: 1 },
      list: ["a"],
      nothing: null,
      $dollar: "x",
      _underscore: "x",
      ünïcode: "x",
      "with space": "ok",
      zero: 0,
      no: false,
    });
    expect(await listed()).toEqual({
      reposAllowed: [acme.repoId],
      exact: "é".repeat(100),
      ["k".repeat(200)]: 1,
      "with space": "ok",
      zero: 0,
      no: false,
    });
  });

  test("a later heartbeat replaces them: a key no longer sent is gone", async () => {
    await heartbeat({ reposAllowed: [acme.repoId], region: "eu", tier: 2 });
    await heartbeat({ reposAllowed: [acme.repoId], tier: 3 });
    expect(await listed()).toEqual({ reposAllowed: [acme.repoId], tier: 3 });
  });

  test("unknown keys never change matching", async () => {
    const jobId = await acme.enqueue({ requirements: { canWrite: true } });
    const { workerId } = await heartbeat({
      reposAllowed: [acme.repoId],
      canWriteEverything: true,
      writeRequired: true,
    });
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    await heartbeat({ reposAllowed: [acme.repoId], canWrite: true });
    expect((await acme.claimJob(workerId)).jobId).toBe(jobId);
  });
});
