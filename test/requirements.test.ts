/**
 * Requirements in both spellings (SPEC §6 matching, §12): `writeRequired` ≡ `canWrite`,
 * `networkRequired` ≡ `canUseNetwork`, `modelPolicy` against `modelPolicies` only when a worker
 * lists them; stored canonical, one claim stream per requirement set, returned with both spellings.
 */
import { beforeEach, describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { expectError, ok } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  acme = await queueWorkspace(t, "acme");
});

/** The job as stored: canonical requirements and the stream key. */
async function stored(jobId: string) {
  return await t.run(async (ctx) => (await ctx.db.get(jobId as Id<"jobs">))!);
}

/** An enqueue body in `repoId` with these requirements (and other fields). */
function enqueueBody(requirements: Json, fields: Json = {}) {
  return { workspaceId: acme.workspaceId, repoId: acme.repoId, kind: "work", prompt: "p", requirements, ...fields };
}

/** The distinct claim streams (repo, requirements key) of the pending jobs. */
async function pendingStreams() {
  const jobs = await t.run(async (ctx) => await ctx.db.query("jobs").collect());
  return [
    ...new Set(jobs.filter((job) => job.status === "pending").map((job) => `${job.repoId} ${job.requirementsKey}`)),
  ];
}

describe("both spellings mean the same", () => {
  test.each([
    ["writeRequired", { writeRequired: true }, { canWrite: true }],
    ["canWrite", { canWrite: true }, { canWrite: true }],
    ["networkRequired", { networkRequired: true }, { canUseNetwork: true }],
    ["canUseNetwork", { canUseNetwork: true }, { canUseNetwork: true }],
    ["mixed", { writeRequired: true, canUseNetwork: true }, { canWrite: true, canUseNetwork: true }],
    ["both of one, agreeing", { writeRequired: false, canWrite: false }, { canWrite: false }],
  ])("%s: stored canonical, returned with both spellings", async (_name, sent, canonical) => {
    const jobId = await acme.enqueue({ requirements: { executionMode: "hybrid", ...sent } });
    expect((await stored(jobId)).requirements).toEqual({ executionMode: "hybrid", ...canonical });
    const both: Json = { executionMode: "hybrid", ...canonical };
    if ("canWrite" in canonical) both.writeRequired = canonical.canWrite;
    if ("canUseNetwork" in canonical) both.networkRequired = canonical.canUseNetwork;
    expect((await acme.job(jobId)).requirements).toEqual(both);
    const listed = await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId });
    expect(listed.jobs[0].requirements).toEqual(both);
    const console = t.withIdentity(acme.member.identity);
    const workspaceId = acme.workspaceId;
    const page = await console.query(api.jobsConsole.list, {
      workspaceId,
      paginationOpts: { numItems: 5, cursor: null },
    });
    expect(page.page[0]!.requirements).toEqual(both);
    const detail = await console.query(api.jobsConsole.get, { workspaceId, jobId: jobId as Id<"jobs"> });
    expect(detail?.job.requirements).toEqual(both);
  });

  test("the two spellings of one set are one stream, claimed oldest first across spellings", async () => {
    const first = await acme.enqueue({ requirements: { canWrite: true, networkRequired: true } });
    const second = await acme.enqueue({ requirements: { writeRequired: true, canUseNetwork: true } });
    const third = await acme.enqueue({ requirements: { writeRequired: true, networkRequired: true } });
    const keys = new Set([(await stored(first)).requirementsKey, (await stored(second)).requirementsKey]);
    keys.add((await stored(third)).requirementsKey);
    expect([...keys]).toEqual(['{"canWrite":true,"canUseNetwork":true}']);
    expect(await pendingStreams()).toHaveLength(1);
    const workerId = await acme.worker("w", { canWrite: true, canUseNetwork: true });
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await acme.claimJob(workerId)).jobId);
    expect(order).toEqual([first, second, third]);
  });

  test("`writeRequired: false` demands nothing: same stream as no requirements", async () => {
    await acme.enqueue({ requirements: { writeRequired: false } });
    await acme.enqueue();
    expect(await pendingStreams()).toHaveLength(1);
  });

  test("an idempotent enqueue repeated in the other spelling is the same job", async () => {
    const first = await ok(
      acme.call,
      "/v1/jobs/enqueue",
      enqueueBody({ writeRequired: true }, { idempotencyKey: "k1" }),
    );
    const again = await ok(acme.call, "/v1/jobs/enqueue", enqueueBody({ canWrite: true }, { idempotencyKey: "k1" }));
    expect(again).toMatchObject({ jobId: first.jobId, deduplicated: true });
  });

  test("the spellings disagreeing is refused, naming the field", async () => {
    const response = await acme.call("/v1/jobs/enqueue", enqueueBody({ writeRequired: true, canWrite: false }));
    expectError(response, 400, "INVALID_REQUEST");
    expect(response.body.issues[0].path).toBe("requirements.writeRequired");
    expect(response.body.message).toContain("canWrite");
  });

  test("an unknown key is refused with the list of accepted keys", async () => {
    const response = await acme.call("/v1/jobs/enqueue", enqueueBody({ writeRequired: true, gpu: true }));
    expectError(response, 400, "INVALID_REQUEST");
    for (const key of [
      "gpu",
      "executionMode",
      "model",
      "canWrite",
      "writeRequired",
      "networkRequired",
      "modelPolicy",
    ]) {
      expect(response.body.message).toContain(key);
    }
    expect((await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId })).jobs).toEqual([]);
  });

  test("the Console enqueues in the runner's spelling too, stored canonical", async () => {
    const console = t.withIdentity(acme.member.identity);
    const { jobId } = await console.mutation(api.jobsConsole.enqueue, {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      kind: "work",
      prompt: "from the Console",
      requirements: { writeRequired: true, modelPolicy: "require_5_2" },
    });
    expect((await stored(jobId)).requirements).toEqual({ canWrite: true, modelPolicy: "require_5_2" });
  });
});

describe("matching", () => {
  test.each([["writeRequired"], ["canWrite"]])(
    "a worker without canWrite never gets a job needing %s; one with it does",
    async (spelling) => {
      const jobId = await acme.enqueue({ requirements: { [spelling]: true } });
      const absent = await acme.worker("absent");
      const denied = await acme.worker("denied", { canWrite: false });
      for (let i = 0; i < 2; i++) {
        expect(await acme.claim(absent)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
        expect(await acme.claim(denied)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
      }
      const writer = await acme.worker("writer", { canWrite: true });
      expect((await acme.claimJob(writer)).jobId).toBe(jobId);
    },
  );

  test("a job needing networkRequired skips a worker without canUseNetwork for plainer work", async () => {
    const networked = await acme.enqueue({ requirements: { networkRequired: true }, priority: -1 });
    const plain = await acme.enqueue();
    const offline = await acme.worker("offline-net", { canUseNetwork: false });
    expect((await acme.claimJob(offline)).jobId).toBe(plain);
    expect(await acme.claim(offline)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    const online = await acme.worker("online-net", { canUseNetwork: true });
    expect((await acme.claimJob(online)).jobId).toBe(networked);
  });

  test("modelPolicy: a worker listing no modelPolicies takes it; one listing others does not; one listing it does", async () => {
    const policy = { requirements: { modelPolicy: "require_5_2" } };
    const strict = await acme.worker("strict", { modelPolicies: ["require_4"] });
    const none = await acme.worker("none", { modelPolicies: [] });
    const trusting = await acme.worker("trusting");
    const listing = await acme.worker("listing", { modelPolicies: ["require_4", "require_5_2"] });

    const first = await acme.enqueue(policy);
    expect(await acme.claim(strict)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    expect(await acme.claim(none)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    expect((await acme.claimJob(trusting)).jobId).toBe(first);
    const second = await acme.enqueue(policy);
    expect((await acme.claimJob(listing)).jobId).toBe(second);
  });

  test("the runner's full requirement set against its own capabilities", async () => {
    const jobId = await acme.enqueue({
      requirements: {
        executionMode: "hybrid",
        modelPolicy: "require_5_2",
        writeRequired: true,
        networkRequired: false,
      },
    });
    const readOnly = await acme.worker("read-only", { executionModes: ["cli", "hybrid"], canWrite: false });
    const cliOnly = await acme.worker("cli-only", { executionModes: ["cli"], canWrite: true });
    expect(await acme.claim(readOnly)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    expect(await acme.claim(cliOnly)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    const runner = await acme.worker("runner", {
      executionModes: ["cli", "hybrid"],
      canWrite: true,
      canUseNetwork: false,
    });
    expect((await acme.claimJob(runner)).jobId).toBe(jobId);
  });
});

describe("complete-and-enqueue-children", () => {
  test("children in the runner's spelling are stored canonical; a bad child rolls the completion back", async () => {
    const parent = await acme.enqueue();
    const workerId = await acme.worker("w", { canWrite: true });
    const claim = await acme.claimJob(workerId);
    const body = (children: Json[]) => ({
      workspaceId: acme.workspaceId,
      jobId: parent,
      workerId,
      claimGeneration: claim.claimGeneration,
      idempotencyKey: "kids",
      outcome: "done",
      children,
    });
    const child = {
      repoId: acme.repoId,
      kind: "pr_review",
      prompt: "Review",
      requirements: { writeRequired: false, networkRequired: true },
    };

    const unknownKey = await acme.call(
      "/v1/jobs/complete-and-enqueue-children",
      body([child, { ...child, requirements: { gpu: 1 } }]),
    );
    expectError(unknownKey, 400, "INVALID_REQUEST");
    expect(unknownKey.body.message).toContain("writeRequired");
    const conflict = await acme.call(
      "/v1/jobs/complete-and-enqueue-children",
      body([{ ...child, requirements: { networkRequired: true, canUseNetwork: false } }]),
    );
    expectError(conflict, 400, "INVALID_REQUEST");
    expect(conflict.body.issues[0].path).toBe("children.0.requirements.networkRequired");
    expect(await acme.job(parent)).toMatchObject({ status: "running" });

    const spawned = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body([child]));
    const [childId] = spawned.result.spawnedJobIds;
    expect((await stored(childId)).requirements).toEqual({ canWrite: false, canUseNetwork: true });
    expect((await acme.job(childId)).requirements).toEqual({
      canWrite: false,
      writeRequired: false,
      canUseNetwork: true,
      networkRequired: true,
    });
  });
});
