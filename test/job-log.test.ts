/**
 * `POST /v1/jobs/log` beyond plain lines: per-line times (lines a worker sends late, after an
 * outage, keep when they were printed) and `droppedLines` (a `log_gap` event before the lines).
 */
import { beforeEach, describe, expect, test } from "vitest";
import { expectError, ok } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
let claim: Json;
let workerId: string;
beforeEach(async () => {
  acme = await queueWorkspace(t, "acme");
  await acme.enqueue();
  workerId = await acme.worker("w1");
  claim = await acme.claimJob(workerId);
});

const log = (fields: Json) =>
  acme.lease("log", claim.jobId, workerId, { claimGeneration: claim.claimGeneration, ...fields });
const eventsAfterClaim = async () => (await acme.events(claim.jobId)).filter((event) => event.seq > 2);

describe("per-line times", () => {
  test("are stored next to the lines, one per line, as sent", async () => {
    const lineTimes = [1_700_000_000_000, 1_700_000_000_500];
    expect((await ok(acme.call, "/v1/jobs/log", body({ lines: ["a", "b"], lineTimes }))).appended).toBe(2);
    const [event] = await eventsAfterClaim();
    expect(event).toMatchObject({ type: "log", data: { lines: ["a", "b"], lineTimes } });
  });

  test("without them the event is as before: lines only", async () => {
    await ok(acme.call, "/v1/jobs/log", body({ lines: ["a"] }));
    expect((await eventsAfterClaim())[0]!.data).toEqual({ lines: ["a"] });
  });

  test.each([
    ["fewer times than lines", { lines: ["a", "b"], lineTimes: [1] }, "lineTimes"],
    ["a fractional time", { lines: ["a"], lineTimes: [1.5] }, "lineTimes.0"],
    ["a negative time", { lines: ["a"], lineTimes: [-1] }, "lineTimes.0"],
    ["no lines and no gap", { lines: [] }, "lines"],
    ["a gap of zero lines", { lines: ["a"], droppedLines: 0 }, "droppedLines"],
  ])("%s is a 400 naming the field, and nothing is appended", async (_name, fields, path) => {
    const response = await log(fields);
    expectError(response, 400, "INVALID_REQUEST");
    expect(response.body.issues.map((issue: Json) => issue.path)).toContain(path);
    expect(await eventsAfterClaim()).toEqual([]);
  });
});

describe("log gaps", () => {
  test("droppedLines appends a log_gap event, then the log event of the lines that follow the gap", async () => {
    await ok(acme.call, "/v1/jobs/log", body({ lines: ["before"] }));
    await ok(acme.call, "/v1/jobs/log", body({ lines: ["after"], droppedLines: 1234 }));
    const events = await eventsAfterClaim();
    expect(events.map((event) => [event.type, event.data])).toEqual([
      ["log", { lines: ["before"] }],
      ["log_gap", { droppedLines: 1234 }],
      ["log", { lines: ["after"] }],
    ]);
    expect(events[1]!.message).toContain("1234 log line(s) dropped");
  });

  test("a gap alone (the job ended while the spool was full) is one log_gap event", async () => {
    expect((await ok(acme.call, "/v1/jobs/log", body({ lines: [], droppedLines: 7 }))).appended).toBe(0);
    expect((await eventsAfterClaim()).map((event) => [event.type, event.data])).toEqual([
      ["log_gap", { droppedLines: 7 }],
    ]);
  });

  test("a gap from a worker that lost the lease is refused like its lines", async () => {
    await ok(acme.call, "/v1/jobs/complete", {
      workspaceId: acme.workspaceId,
      jobId: claim.jobId,
      workerId,
      outcome: "done",
    });
    const response = await log({ lines: [], droppedLines: 3 });
    expect(response.status).toBe(409);
    expect((await eventsAfterClaim()).map((event) => event.type)).toEqual(["completed"]);
  });
});

function body(fields: Json): Json {
  return {
    workspaceId: acme.workspaceId,
    jobId: claim.jobId,
    workerId,
    claimGeneration: claim.claimGeneration,
    ...fields,
  };
}
