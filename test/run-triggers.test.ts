/** Run triggers (SPEC §8): Console CRUD for admins, fan-out from ingested events, failures recorded on the event. */
import { describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { utf8Length } from "../convex/model/convexValues";
import { workspaceWithMember } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";
import { caller, createRepo, ok } from "./support/api";
import { INTEGRATION_SECRET, eventDoc, ingest, runScheduled, setDataPolicy } from "./support/integration-fixtures";

const t = useFreshConvex({ IAS_INTEGRATION_EVENT_SECRET: INTEGRATION_SECRET });

const EVENT = {
  source: "github",
  eventType: "issue_opened",
  idempotencyKey: "gh-delivery-1",
  payload: { issue: { number: 42, labels: ["bug"] } },
  item: {
    externalId: "issue-42",
    title: "Login fails on Safari",
    text: "Steps: open /login in Safari 17.",
    url: "https://github.com/acme/app/issues/42",
  },
};

describe("run triggers", () => {
  async function setUp() {
    const acme = await workspaceWithMember(t, "acme");
    const repoId = (await createRepo(caller(t, acme.token), acme.workspaceId)) as Id<"repos">;
    const admin = t.withIdentity(acme.owner.identity);
    return { ...acme, repoId, admin };
  }

  test("a matching enabled trigger creates a run and enqueues a job whose prompt is filled from the event", async () => {
    vi.useFakeTimers();
    const { workspaceId, repoId, admin, token } = await setUp();
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Triage new issues",
      source: "github",
      eventType: "issue_opened",
      action: {
        repoId,
        createRun: { runRefTemplate: "issue-{{event.externalId}}", goalTemplate: "Fix: {{event.title}}" },
        enqueueJob: {
          kind: "work",
          promptTemplate:
            "Fix {{event.title}} (#{{payload.issue.number}}, labels {{payload.issue.labels}}): {{event.text}} {{payload.missing}}",
          priority: 5,
        },
      },
    });
    const disabled = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Disabled",
      source: "github",
      eventType: "issue_opened",
      enabled: false,
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "never" } },
    });
    await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Other event type",
      source: "github",
      eventType: "issue_closed",
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "never" } },
    });

    const { body } = await ingest(t, { ...EVENT, workspaceId });
    expect(body.triggeredRunTriggerIds).toEqual([runTriggerId]);
    expect(body.triggeredRunTriggerIds).not.toContain(disabled);
    await runScheduled(t);

    const event = (await eventDoc(t, body.eventId))!;
    expect(event.triggers).toEqual([
      {
        runTriggerId,
        status: "done",
        runId: expect.any(String),
        jobId: expect.any(String),
        finishedAt: expect.any(Number),
      },
    ]);
    const { runId, jobId } = event.triggers[0]!;
    const { job } = await ok(caller(t, token), "/v1/jobs/get", { workspaceId, jobId: jobId! });
    expect(job).toMatchObject({
      kind: "work",
      repoId,
      runId,
      priority: 5,
      status: "pending",
      prompt: 'Fix Login fails on Safari (#42, labels ["bug"]): Steps: open /login in Safari 17. ',
    });
    const run = await t.run((ctx) => ctx.db.get(runId!));
    expect(run).toMatchObject({
      runRef: "issue-issue-42",
      goal: "Fix: Login fails on Safari",
      status: "queued",
      repoId,
    });

    // A duplicate delivery fires nothing again.
    expect((await ingest(t, { ...EVENT, workspaceId })).body).toMatchObject({
      duplicate: true,
      triggeredRunTriggerIds: [],
    });
    await runScheduled(t);
    expect(await t.run((ctx) => ctx.db.query("jobs").collect())).toHaveLength(1);
  });

  test("templates only see what the data policy stored", async () => {
    vi.useFakeTimers();
    const { workspaceId, repoId, admin } = await setUp();
    await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Echo",
      source: "github",
      eventType: "issue_opened",
      action: {
        repoId,
        enqueueJob: {
          kind: "work",
          promptTemplate: "[{{event.title}}|{{event.text}}|{{payload.issue.number}}|{{event.eventType}}]",
        },
      },
    });
    await setDataPolicy(t, workspaceId, "metadata_only");
    await ingest(t, { ...EVENT, workspaceId });
    await setDataPolicy(t, workspaceId, "none");
    await ingest(t, { ...EVENT, workspaceId, idempotencyKey: "gh-delivery-2" });
    await runScheduled(t);
    const prompts = (await t.run((ctx) => ctx.db.query("jobs").collect())).map((job) => job.prompt);
    expect(prompts.sort()).toEqual(["[Login fails on Safari|||issue_opened]", "[|||issue_opened]"]);
  });

  test("a trigger that fails is recorded on the event, which is kept; other triggers still run", async () => {
    vi.useFakeTimers();
    const { workspaceId, repoId, admin } = await setUp();
    const failing = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Prompt too large once filled",
      source: "github",
      eventType: "issue_opened",
      action: { repoId, createRun: {}, enqueueJob: { kind: "work", promptTemplate: "{{event.text}}{{event.text}}" } },
    });
    const working = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Works",
      source: "github",
      eventType: "issue_opened",
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "Look at {{event.url}}" } },
    });
    const bigText = "x".repeat(40 * 1024);
    const { body } = await ingest(t, { ...EVENT, workspaceId, item: { ...EVENT.item, text: bigText } });
    expect(body.triggeredRunTriggerIds.sort()).toEqual([failing, working].sort());
    await runScheduled(t);

    const event = (await eventDoc(t, body.eventId))!;
    expect(event.text).toBe(bigText);
    const byTrigger = Object.fromEntries(event.triggers.map((entry) => [entry.runTriggerId, entry]));
    expect(byTrigger[failing]).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/^INVALID_REQUEST: prompt/),
    });
    expect(byTrigger[failing]!.runId).toBeUndefined();
    expect(byTrigger[working]).toMatchObject({ status: "done", jobId: expect.any(String) });
    // The failing trigger's run was rolled back with its job: nothing half-done.
    expect(await t.run((ctx) => ctx.db.query("runs").collect())).toHaveLength(0);
    expect(await t.run((ctx) => ctx.db.query("jobs").collect())).toHaveLength(1);
  });

  test("filled templates cut at their length limit never split an emoji: the run stays storable", async () => {
    vi.useFakeTimers();
    const { workspaceId, repoId, admin } = await setUp();
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Long fields",
      source: "github",
      eventType: "issue_opened",
      action: {
        repoId,
        createRun: { runRefTemplate: "r-{{event.externalId}}", goalTemplate: "Fix: {{event.text}}" },
      },
    });
    // runRef is cut at 200 and goal at 8,000 UTF-16 units; each limit falls inside an emoji.
    const item = { ...EVENT.item, externalId: `${"a".repeat(197)}🙂`, text: `${"b".repeat(7_994)}🙂 more` };
    const { body } = await ingest(t, { ...EVENT, workspaceId, item });
    await runScheduled(t);

    const event = (await eventDoc(t, body.eventId))!;
    expect(event.triggers).toEqual([expect.objectContaining({ runTriggerId, status: "done" })]);
    const run = (await t.run((ctx) => ctx.db.get(event.triggers[0]!.runId!)))!;
    expect(run.runRef).toBe(`r-${"a".repeat(197)}`);
    expect(run.goal).toBe(`Fix: ${"b".repeat(7_994)}`);
    expect(utf8Length(run.runRef)).not.toBeNull();
    expect(utf8Length(run.goal!)).not.toBeNull();
  });

  test("an event naming an existing run reuses it unchanged: status and goal apply only to a new run", async () => {
    vi.useFakeTimers();
    const { workspaceId, repoId, admin } = await setUp();
    await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "One run per issue",
      source: "github",
      eventType: "issue_opened",
      action: {
        repoId,
        createRun: {
          runRefTemplate: "issue-{{event.externalId}}",
          goalTemplate: "Fix: {{event.title}}",
          status: "queued",
        },
        enqueueJob: { kind: "work", promptTemplate: "Look at {{event.title}}" },
      },
    });
    await ingest(t, { ...EVENT, workspaceId });
    await runScheduled(t);
    const [run] = await t.run((ctx) => ctx.db.query("runs").collect());
    await t.run((ctx) => ctx.db.patch(run!._id, { status: "done" }));

    await ingest(t, {
      ...EVENT,
      workspaceId,
      idempotencyKey: "gh-delivery-2",
      item: { ...EVENT.item, title: "Renamed issue" },
    });
    await runScheduled(t);
    const runs = await t.run((ctx) => ctx.db.query("runs").collect());
    expect(runs).toEqual([
      expect.objectContaining({ _id: run!._id, status: "done", goal: "Fix: Login fails on Safari" }),
    ]);
    const jobs = await t.run((ctx) => ctx.db.query("jobs").collect());
    expect(jobs.map((job) => [job.runId, job.prompt])).toEqual([
      [run!._id, "Look at Login fails on Safari"],
      [run!._id, "Look at Renamed issue"],
    ]);
  });

  test("a fired trigger is a scheduled mutation (exactly once); running it again changes nothing", async () => {
    vi.useFakeTimers();
    const { workspaceId, repoId, admin } = await setUp();
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Enqueue",
      source: "github",
      eventType: "issue_opened",
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "{{event.title}}" } },
    });
    const gone = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Deleted before it runs",
      source: "github",
      eventType: "issue_opened",
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "never" } },
    });
    const { body } = await ingest(t, { ...EVENT, workspaceId });
    await admin.mutation(api.runTriggers.remove, { workspaceId, runTriggerId: gone });
    await runScheduled(t);
    const eventId = body.eventId as Id<"integrationEvents">;
    const settled = (await eventDoc(t, eventId))!.triggers;
    expect(settled).toEqual([
      expect.objectContaining({ runTriggerId, status: "done" }),
      expect.objectContaining({
        runTriggerId: gone,
        status: "failed",
        error: expect.stringMatching(/^RUN_TRIGGER_NOT_FOUND/),
      }),
    ]);

    vi.advanceTimersByTime(60_000);
    // The ids are the arguments ingest scheduled; a repeat finds both outcomes settled.
    await t.mutation(internal.integrations.fireTrigger, { eventId, runTriggerId });
    await t.mutation(internal.integrations.fireTrigger, { eventId, runTriggerId: gone });
    expect((await eventDoc(t, eventId))!.triggers).toEqual(settled);
    expect(await t.run((ctx) => ctx.db.query("jobs").collect())).toHaveLength(1);
  });

  test("only admins manage triggers; templates and repos are checked", async () => {
    const { workspaceId, repoId, admin, member } = await setUp();
    const action = { repoId, enqueueJob: { kind: "work" as const, promptTemplate: "{{event.title}}" } };
    const asMember = t.withIdentity(member.identity);
    await expect(
      asMember.mutation(api.runTriggers.create, { workspaceId, name: "x", source: "s", eventType: "e", action }),
    ).rejects.toThrow(/admin/);
    await expect(
      admin.mutation(api.runTriggers.create, {
        workspaceId,
        name: "x",
        source: "s",
        eventType: "e",
        action: { repoId, enqueueJob: { kind: "work", promptTemplate: "{{event.body}} {{secrets.x}}" } },
      }),
    ).rejects.toThrow(/event fields are/);
    await expect(
      admin.mutation(api.runTriggers.create, {
        workspaceId,
        name: "x",
        source: "s",
        eventType: "e",
        action: { repoId },
      }),
    ).rejects.toThrow(/create a run, enqueue a job, or both/);
    const other = await workspaceWithMember(t, "other");
    const otherRepo = (await createRepo(caller(t, other.token), other.workspaceId)) as Id<"repos">;
    await expect(
      admin.mutation(api.runTriggers.create, {
        workspaceId,
        name: "x",
        source: "s",
        eventType: "e",
        action: { ...action, repoId: otherRepo },
      }),
    ).rejects.toThrow(/REPO_NOT_FOUND|repo/i);

    const id = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "x",
      source: "s",
      eventType: "e",
      action,
    });
    await admin.mutation(api.runTriggers.update, { workspaceId, runTriggerId: id, enabled: false, name: "renamed" });
    const listed = await asMember.query(api.runTriggers.list, {
      workspaceId,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(listed.page).toEqual([expect.objectContaining({ _id: id, name: "renamed", enabled: false, type: "event" })]);
    await admin.mutation(api.runTriggers.remove, { workspaceId, runTriggerId: id });
    await expect(admin.mutation(api.runTriggers.remove, { workspaceId, runTriggerId: id })).rejects.toThrow(
      /No run trigger/,
    );
  });
});
