/** The Console Inbox (SPEC §7, §9): order, answer, dismiss, applied, and blocked runs. */
import { describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import type { PaginationResult } from "convex/server";
import type { Doc, Id } from "../convex/_generated/dataModel";
import { addMember, createUser } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";
import { claimAndComplete, jobsOfKind, ok, rejection, startWorker } from "./support/api";
import { raise, uncertaintyBody, workspaceWithRun as withRun } from "./support/runs-fixtures";

const t = useFreshConvex();

const workspaceWithRun = (slug?: string) => withRun(t, slug);

const asDecisionId = (id: string) => id as Id<"decisionRequests">;

describe("Inbox list", () => {
  test("open first, then blocker, checkpoint, audit; oldest first within; paginated", async () => {
    const { call, console, workspaceId, runId } = await workspaceWithRun();
    const raiseAs = async (tier: "blocker" | "checkpoint" | "audit") =>
      (await raise(call, uncertaintyBody(workspaceId, runId, tier))).decisionRequestId as string;
    const audit1 = await raiseAs("audit");
    const checkpoint1 = await raiseAs("checkpoint");
    const blocker1 = await raiseAs("blocker");
    const audit2 = await raiseAs("audit");
    const blocker2 = await raiseAs("blocker");
    const answeredBlocker = await raiseAs("blocker");
    const dismissedCheckpoint = await raiseAs("checkpoint");
    await console.mutation(api.inbox.answer, {
      workspaceId,
      decisionRequestId: asDecisionId(answeredBlocker),
      value: "yes",
    });
    await console.mutation(api.inbox.dismiss, { workspaceId, decisionRequestId: asDecisionId(dismissedCheckpoint) });
    // Not promoted: never in the Inbox.
    await raise(call, uncertaintyBody(workspaceId, runId, null));

    const expected = [blocker1, blocker2, checkpoint1, audit1, audit2, answeredBlocker, dismissedCheckpoint];
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const result: PaginationResult<Doc<"decisionRequests">> = await console.query(api.inbox.list, {
        workspaceId,
        paginationOpts: { numItems: 2, cursor },
      });
      seen.push(...result.page.map((decision) => decision._id));
      if (result.isDone) break;
      cursor = result.continueCursor;
    }
    expect(seen).toEqual(expected);

    const open = await console.query(api.inbox.list, {
      workspaceId,
      openOnly: true,
      paginationOpts: { numItems: 50, cursor: null },
    });
    expect(open.page.map((decision) => decision._id)).toEqual(expected.slice(0, 5));
    expect(open.page[0]).toMatchObject({
      status: "open",
      tier: "blocker",
      prompt: expect.stringContaining("database"),
    });
  });

  test("viewers may read the Inbox but not answer or dismiss; outsiders may not read it", async () => {
    const { call, workspaceId, runId } = await workspaceWithRun();
    const { decisionRequestId } = await raise(call, uncertaintyBody(workspaceId, runId, "blocker"));
    const viewer = await createUser(t, "viewer@acme.test");
    await addMember(t, workspaceId, viewer, "viewer");
    const asViewer = t.withIdentity(viewer.identity);
    const listed = await asViewer.query(api.inbox.list, { workspaceId, paginationOpts: { numItems: 5, cursor: null } });
    expect(listed.page).toHaveLength(1);
    expect((await asViewer.query(api.inbox.get, { workspaceId, decisionRequestId }))?.decision._id).toBe(
      decisionRequestId,
    );
    expect(
      (await rejection(asViewer.mutation(api.inbox.answer, { workspaceId, decisionRequestId, value: "x" }))).code,
    ).toBe("FORBIDDEN");
    expect((await rejection(asViewer.mutation(api.inbox.dismiss, { workspaceId, decisionRequestId }))).code).toBe(
      "FORBIDDEN",
    );

    const outsider = t.withIdentity((await createUser(t, "eve@example.com")).identity);
    expect(
      (await rejection(outsider.query(api.inbox.list, { workspaceId, paginationOpts: { numItems: 5, cursor: null } })))
        .code,
    ).toBe("FORBIDDEN");
  });
});

describe("Inbox get", () => {
  test("a decision with its uncertainty (context), run, raising job and resolutions; null elsewhere", async () => {
    const acme = await workspaceWithRun();
    const { jobId } = await ok(acme.call, "/v1/jobs/enqueue", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      runId: acme.runId,
      kind: "work",
      prompt: "Implement it",
    });
    const raised = await raise(acme.call, uncertaintyBody(acme.workspaceId, acme.runId, "checkpoint", { jobId }));
    const detail = await acme.console.query(api.inbox.get, {
      workspaceId: acme.workspaceId,
      decisionRequestId: raised.decisionRequestId,
    });
    expect(detail?.decision).toMatchObject({
      _id: raised.decisionRequestId,
      status: "open",
      tier: "checkpoint",
      jobId,
    });
    expect(detail?.uncertainty).toMatchObject({
      context: "The project needs a relational database.",
      assumedValue: "PostgreSQL",
      confidence: 0.5,
    });
    expect(detail?.run).toMatchObject({ _id: acme.runId, goal: "Add user settings" });
    expect(detail?.job).toMatchObject({ _id: jobId, kind: "work" });
    expect(detail?.applyJob).toBeNull();
    expect(detail?.resolutions).toEqual([]);

    const other = await workspaceWithRun("other");
    expect(
      await other.console.query(api.inbox.get, {
        workspaceId: other.workspaceId,
        decisionRequestId: raised.decisionRequestId,
      }),
    ).toBeNull();
    const refused = await rejection(
      other.console.mutation(api.inbox.answer, {
        workspaceId: other.workspaceId,
        decisionRequestId: raised.decisionRequestId,
        value: "x",
      }),
    );
    expect(refused.code).toBe("DECISION_REQUEST_NOT_FOUND");
  });
});

describe("answer and apply", () => {
  test("answering twice, or twice at once, creates exactly one apply_decision job for the run's repo", async () => {
    const { call, console, workspaceId, runId, repoId } = await workspaceWithRun();
    const { decisionRequestId } = await raise(call, uncertaintyBody(workspaceId, runId, "blocker"));
    const answer = { workspaceId, decisionRequestId, value: "PostgreSQL", note: "We already run it" };
    const [first, second] = await Promise.all([
      console.mutation(api.inbox.answer, answer),
      console.mutation(api.inbox.answer, answer),
    ]);
    const third = await console.mutation(api.inbox.answer, answer);
    expect([first.alreadyAnswered, second.alreadyAnswered, third.alreadyAnswered].sort()).toEqual([false, true, true]);
    expect(new Set([first.applyJobId, second.applyJobId, third.applyJobId]).size).toBe(1);
    expect(new Set([first.resolutionId, second.resolutionId, third.resolutionId]).size).toBe(1);

    const jobs = await jobsOfKind(call, workspaceId, "apply_decision");
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ _id: first.applyJobId, repoId, runId, status: "pending" });
    expect(jobs[0]!.prompt).toContain("Answer: PostgreSQL");
    expect(jobs[0]!.prompt).toContain("Note: We already run it");

    const detail = await console.query(api.inbox.get, { workspaceId, decisionRequestId });
    expect(detail?.decision).toMatchObject({
      status: "answered",
      answer: "PostgreSQL",
      answerNote: "We already run it",
    });
    expect(detail?.uncertainty?.status).toBe("answered");
    expect(detail?.resolutions.map((r) => [r.mode, r.value, r.note])).toEqual([
      ["answered", "PostgreSQL", "We already run it"],
    ]);

    const changed = await rejection(console.mutation(api.inbox.answer, { ...answer, value: "MySQL" }));
    expect(changed.code).toBe("INVALID_DECISION_STATE");
    expect((await rejection(console.mutation(api.inbox.answer, { ...answer, value: "  " }))).code).toBe(
      "INVALID_REQUEST",
    );
  });

  test("the decision becomes applied when its job completes done, and the run it blocked continues", async () => {
    const { call, console, workspaceId, runId, repoId } = await workspaceWithRun();
    const { decisionRequestId } = await raise(call, uncertaintyBody(workspaceId, runId, "blocker"));
    await ok(call, "/v2/runs/upsert", {
      workspaceId,
      runId,
      status: "blocked",
      blockedByDecisionRequestId: decisionRequestId,
    });
    const workerId = await startWorker(call, workspaceId, repoId);

    const { applyJobId } = await console.mutation(api.inbox.answer, {
      workspaceId,
      decisionRequestId,
      value: "PostgreSQL",
    });
    // A failed attempt leaves it answered.
    const failed = await claimAndComplete(call, workspaceId, workerId, "failed");
    expect(failed._id).toBe(applyJobId);
    expect((await console.query(api.inbox.get, { workspaceId, decisionRequestId }))?.decision.status).toBe("answered");
    await ok(call, "/v1/jobs/retry", { workspaceId, jobId: applyJobId });

    const applied = await claimAndComplete(call, workspaceId, workerId, "done");
    expect(applied).toMatchObject({ _id: applyJobId, kind: "apply_decision" });
    const detail = await console.query(api.inbox.get, { workspaceId, decisionRequestId });
    expect(detail?.decision).toMatchObject({ status: "applied", appliedAt: expect.any(Number) });
    const run = await console.query(api.runs.get, { workspaceId, runId: runId as Id<"runs"> });
    expect(run?.run.status).toBe("in_progress");
    expect(run?.run.blockedByDecisionRequestId).toBeUndefined();

    // Applied is final: the same answer is still a no-op, another answer is refused.
    expect(
      (await console.mutation(api.inbox.answer, { workspaceId, decisionRequestId, value: "PostgreSQL" }))
        .alreadyAnswered,
    ).toBe(true);
    expect(await jobsOfKind(call, workspaceId, "apply_decision")).toHaveLength(1);
  });

  test("a job completed blocked on a decision shows that decision on its run", async () => {
    const { call, console, workspaceId, runId, repoId } = await workspaceWithRun();
    const { decisionRequestId } = await raise(call, uncertaintyBody(workspaceId, runId, "blocker"));
    await ok(call, "/v1/jobs/enqueue", { workspaceId, repoId, runId, kind: "work", prompt: "Build it" });
    const workerId = await startWorker(call, workspaceId, repoId);
    await claimAndComplete(call, workspaceId, workerId, "blocked", {
      runId,
      outcomeReason: "needs_decision",
      evidence: { decisionRequestId: `decisionRequests/${decisionRequestId}` },
    });
    const detail = await console.query(api.runs.get, { workspaceId, runId: runId as Id<"runs"> });
    expect(detail?.run).toMatchObject({ status: "blocked", blockedByDecisionRequestId: decisionRequestId });
    expect(detail?.blockedBy).toMatchObject({ _id: decisionRequestId, status: "open" });
  });

  test("dismissing the decision unblocks the run; a dismissed decision cannot block again", async () => {
    const { call, console, workspaceId, runId, repoId } = await workspaceWithRun();
    const { decisionRequestId } = await raise(call, uncertaintyBody(workspaceId, runId, "blocker"));
    const workerId = await startWorker(call, workspaceId, repoId);
    const blockOn = async () => {
      await ok(call, "/v1/jobs/enqueue", { workspaceId, repoId, runId, kind: "work", prompt: "Build it" });
      await claimAndComplete(call, workspaceId, workerId, "blocked", { runId, evidence: { decisionRequestId } });
    };
    const runOf = async () => (await console.query(api.runs.get, { workspaceId, runId: runId as Id<"runs"> }))?.run;
    await blockOn();
    expect(await runOf()).toMatchObject({ status: "blocked", blockedByDecisionRequestId: decisionRequestId });
    await console.mutation(api.inbox.dismiss, { workspaceId, decisionRequestId });
    expect(await runOf()).toMatchObject({ status: "in_progress" });
    expect((await runOf())?.blockedByDecisionRequestId).toBeUndefined();
    await blockOn();
    expect((await runOf())?.status).toBe("in_progress");
  });

  test("blocked evidence naming another workspace's decision is ignored", async () => {
    const acme = await workspaceWithRun();
    const other = await workspaceWithRun("other");
    const foreign = await raise(other.call, uncertaintyBody(other.workspaceId, other.runId, "blocker"));
    await ok(acme.call, "/v1/jobs/enqueue", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      runId: acme.runId,
      kind: "work",
      prompt: "p",
    });
    const workerId = await startWorker(acme.call, acme.workspaceId, acme.repoId);
    await claimAndComplete(acme.call, acme.workspaceId, workerId, "blocked", {
      evidence: { decisionRequestId: foreign.decisionRequestId },
    });
    const detail = await acme.console.query(api.runs.get, {
      workspaceId: acme.workspaceId,
      runId: acme.runId as Id<"runs">,
    });
    expect(detail?.run.status).toBe("in_progress");
    expect(detail?.run.blockedByDecisionRequestId).toBeUndefined();
  });
});

describe("dismiss", () => {
  test("dismisses an open decision without a job; dismissing again is a no-op; answered ones cannot be dismissed", async () => {
    const { call, console, workspaceId, runId } = await workspaceWithRun();
    const first = await raise(call, uncertaintyBody(workspaceId, runId, "audit"));
    const dismissed = await console.mutation(api.inbox.dismiss, {
      workspaceId,
      decisionRequestId: first.decisionRequestId,
      reason: "Not relevant",
    });
    const again = await console.mutation(api.inbox.dismiss, {
      workspaceId,
      decisionRequestId: first.decisionRequestId,
    });
    expect(again.resolutionId).toBe(dismissed.resolutionId);
    const detail = await console.query(api.inbox.get, { workspaceId, decisionRequestId: first.decisionRequestId });
    expect(detail?.decision).toMatchObject({ status: "dismissed", dismissedBy: expect.any(String) });
    expect(detail?.uncertainty?.status).toBe("dismissed");
    expect(detail?.resolutions.map((r) => [r.mode, r.value])).toEqual([["dismissed", "Not relevant"]]);
    expect(
      (
        await rejection(
          console.mutation(api.inbox.answer, { workspaceId, decisionRequestId: first.decisionRequestId, value: "x" }),
        )
      ).code,
    ).toBe("INVALID_DECISION_STATE");

    const second = await raise(call, uncertaintyBody(workspaceId, runId, "blocker"));
    await console.mutation(api.inbox.answer, { workspaceId, decisionRequestId: second.decisionRequestId, value: "go" });
    expect(
      (
        await rejection(
          console.mutation(api.inbox.dismiss, { workspaceId, decisionRequestId: second.decisionRequestId }),
        )
      ).code,
    ).toBe("INVALID_DECISION_STATE");
    expect(await jobsOfKind(call, workspaceId, "apply_decision")).toHaveLength(1);
  });
});
