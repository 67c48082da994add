/**
 * SPEC §6 "Events": consecutive heartbeats of a job with the same message are one event, whose
 * `count` and `lastAt` follow the heartbeats, so a long job's timeline does not grow by one event
 * per heartbeat. list-for-job and the Console timeline show both fields.
 */
import { beforeEach, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { ok } from "./support/api";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";
import { useFreshConvex } from "./support/harness";

const t = useFreshConvex();
let acme: QueueWorkspace;
let jobId: string;
let workerId: string;
let claimGeneration: number;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date"], now: 1_800_000_000_000 });
  acme = await queueWorkspace(t);
  workerId = await acme.worker("laptop");
  jobId = await acme.enqueue();
  ({ claimGeneration } = await acme.claimJob(workerId));
});

async function beat(message?: string) {
  vi.advanceTimersByTime(20_000);
  await ok(acme.call, "/v1/jobs/heartbeat", {
    workspaceId: acme.workspaceId,
    jobId,
    workerId,
    claimGeneration,
    ...(message === undefined ? {} : { message }),
  });
  return Date.now();
}

const heartbeats = async () => (await acme.events(jobId)).filter((event) => event.type === "heartbeat");

test("an hour of heartbeats with one message is one event with its count and last time", async () => {
  const first = await beat("running tests");
  let last = first;
  for (let i = 1; i < 180; i++) last = await beat("running tests");

  const events = await acme.events(jobId);
  expect(events.map((event) => event.type)).toEqual(["enqueued", "claimed", "heartbeat"]);
  expect(events[2]).toMatchObject({ seq: 3, message: "running tests", at: first, count: 180, lastAt: last });
  expect(last - first).toBe(179 * 20_000);
});

test("a different message, or another event in between, starts a new heartbeat event", async () => {
  const a = await beat("building");
  await beat("building");
  const b = await beat("testing");
  const c = await beat("building");
  await ok(acme.call, "/v1/jobs/log", { workspaceId: acme.workspaceId, jobId, workerId, lines: ["ok"] });
  const d = await beat("building");
  const e = await beat("building");

  const events = await acme.events(jobId);
  expect(events.slice(2).map((event) => [event.type, event.message, event.count, event.lastAt])).toEqual([
    ["heartbeat", "building", 2, a + 20_000],
    ["heartbeat", "testing", 1, b],
    ["heartbeat", "building", 1, c],
    ["log", undefined, undefined, undefined],
    ["heartbeat", "building", 2, e],
  ]);
  expect(events.at(-1)!.at).toBe(d);
  expect(events.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
});

test("heartbeats without a message extend the lease and add no event; they do not end a run of equal ones", async () => {
  await beat("waiting");
  await beat();
  await beat();
  const last = await beat("waiting");
  expect(await heartbeats()).toEqual([expect.objectContaining({ message: "waiting", count: 2, lastAt: last })]);
});

test("the Console timeline shows the coalesced event with count and lastAt", async () => {
  await beat("step 1");
  const last = await beat("step 1");
  const asOwner = t.withIdentity(acme.owner.identity);
  const detail = await asOwner.query(api.jobsConsole.get, {
    workspaceId: acme.workspaceId,
    jobId: jobId as Id<"jobs">,
  });
  expect(detail!.events.at(-1)).toMatchObject({ type: "heartbeat", message: "step 1", count: 2, lastAt: last });
  const page = await asOwner.query(api.jobsConsole.events, {
    workspaceId: acme.workspaceId,
    jobId: jobId as Id<"jobs">,
    paginationOpts: { numItems: 10, cursor: null },
  });
  expect(page.page.at(-1)).toMatchObject({ count: 2, lastAt: last });
  // Other events carry neither field.
  expect(page.page[0]).not.toHaveProperty("count");
});
