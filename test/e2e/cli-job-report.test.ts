// @vitest-environment node
/**
 * The job's command talks back (`ias job …` with IAS_JOB_TOKEN), end to end: the local server
 * and `ias worker start` as real processes, a job command that raises an uncertainty (an Inbox
 * decision request), adds evidence, sets the run's milestone, proposes a child and blocks, then
 * exits 0. The job ends `blocked` with the reason and has the child; the token dies with the job.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";
import { killCliProcesses, loginAsService, makeCheckout, runCli, startCli } from "../support/cli-process";
import {
  callAsService,
  makeTempDir,
  removeTempDirs,
  spawnLocalServer,
  type LocalProcess,
} from "../support/local-process";

const BIN = fileURLToPath(new URL("../../scripts/cli/bin.mjs", import.meta.url));

const JOB_SCRIPT = `#!/bin/bash
set -e
ias() { node "$IAS_BIN" "$@"; }
env > "$SCRATCH/env-$IAS_JOB_ID"
printf %s "$IAS_JOB_TOKEN" > "$SCRATCH/token-$IAS_JOB_ID"
echo "working on $IAS_JOB_ID"
# The job token on a route outside /v1/job/*: refused, printed to the job's log.
node -e 'fetch(process.env.IAS_CONTROL_PLANE_URL + "/v1/jobs/list", { method: "POST",
  headers: { authorization: "Bearer " + process.env.IAS_JOB_TOKEN, "content-type": "application/json" },
  body: JSON.stringify({ workspaceId: process.env.IAS_WORKSPACE_ID }) })
  .then(async (r) => console.log("scope", r.status, (await r.json()).error))'
ias job uncertainty --prompt "Which database engine?" --kind choice --confidence 0.4 --impact high --json \\
  > "$SCRATCH/uncertainty-$IAS_JOB_ID.json"
ias job evidence prUrl=https://example.test/pr/7 --json '{"checks": {"lint": "green"}}'
ias job milestone "schema drafted"
ias job spawn --kind pr_review --prompt "Review the schema once decided"
ias job block --reason "Waiting for the database choice"
echo "done talking"
exit 0
`;

let server: LocalProcess;
const home = makeTempDir("ias-jobreport-home-");
const scratch = makeTempDir("ias-jobreport-scratch-");
const checkout = makeCheckout(join(makeTempDir("ias-jobreport-repo-"), "widgets"), "https://github.com/acme/report");
const cli = { home, cwd: checkout, env: { SCRATCH: scratch, IAS_BIN: BIN } };

afterAll(async () => {
  await killCliProcesses();
  await server?.kill("SIGKILL");
  removeTempDirs();
});

test("a job that blocks, raises an uncertainty and spawns a child ends blocked, with the child and the decision", async () => {
  server = await spawnLocalServer();
  const workspaceId = await loginAsService(server, cli);
  const api = async (route: string, body: object) => callAsService(server, route, { workspaceId, ...body });
  const linked = await runCli(["repo", "link", "--json"], cli);
  expect(linked.code, linked.stderr).toBe(0);
  const repoId = linked.json().repoId;
  const config = JSON.parse(readFileSync(join(home, "worker.json"), "utf8"));
  writeFileSync(join(scratch, "job.sh"), JOB_SCRIPT, { mode: 0o755 });
  config.ias = { command: ["bash", join(scratch, "job.sh")], leaseMs: 20_000, idleBackoffMs: { min: 100, max: 300 } };
  writeFileSync(join(home, "worker.json"), JSON.stringify(config));

  const { runId } = await api("/v1/runs/upsert", { repoId, runRef: "20260301-db", status: "in_progress" });
  const { jobId } = await api("/v1/jobs/enqueue", { repoId, runId, kind: "work", prompt: "Design the schema" });

  const worker = startCli(["worker", "start", "--once", "--json"], cli);
  const exit = await worker.exited;
  // --once exits 1 when its job did not end done; the worker says what the server recorded.
  expect(exit.code, worker.stderr()).toBe(1);
  expect(worker.events().find((event) => event.event === "finished")).toMatchObject({ jobId, outcome: "blocked" });

  const { job } = await api("/v1/jobs/get", { jobId });
  expect(job).toMatchObject({
    status: "blocked",
    message: "Waiting for the database choice",
    outcomeReason: { version: 1, category: "blocked", code: "blocked_by_job" },
  });
  const raised = JSON.parse(readFileSync(join(scratch, `uncertainty-${jobId}.json`), "utf8"));
  expect(raised).toMatchObject({ promoted: true, decisionRequestId: expect.any(String) });
  // The worker's git evidence, the job's own, and the decision it raised.
  expect(job.evidence).toMatchObject({
    exitCode: 0,
    prUrl: "https://example.test/pr/7",
    checks: { lint: "green" },
    decisionRequestId: raised.decisionRequestId,
  });
  const { run } = await api("/v1/runs/get", { runId });
  expect(run).toMatchObject({
    currentMilestone: "schema drafted",
    blockedByDecisionRequestId: raised.decisionRequestId,
  });

  expect(job.spawnedJobIds).toHaveLength(1);
  const child = (await api("/v1/jobs/get", { jobId: job.spawnedJobIds[0] })).job;
  expect(child).toMatchObject({
    kind: "pr_review",
    prompt: "Review the schema once decided",
    parentJobId: jobId,
    repoId,
    runId,
    status: "pending",
  });
  const lines = (await api("/v1/job-events/list-for-job", { jobId, limit: 500 })).events
    .filter((event: Record<string, any>) => event.type === "log")
    .flatMap((event: Record<string, any>) => event.data.lines);
  expect(lines).toEqual(expect.arrayContaining([`working on ${jobId}`, "scope 403 TOKEN_SCOPE", "done talking"]));

  // The command got its job token, never the worker's own.
  const jobEnv = readFileSync(join(scratch, `env-${jobId}`), "utf8");
  expect(jobEnv).not.toContain(server.serviceToken);
  const jobToken = readFileSync(join(scratch, `token-${jobId}`), "utf8");
  expect(jobToken.startsWith(`ias_job_${jobId}.`)).toBe(true);
  expect(worker.stdout() + worker.stderr()).not.toContain(jobToken);
  expect(server.output()).not.toContain(jobToken);

  // The job is over: its token is refused everywhere.
  const asJob = (path: string, body: object) =>
    fetch(`${server.apiUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${jobToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then(async (response) => [response.status, ((await response.json()) as { error: string }).error]);
  expect(await asJob("/v1/job/log", { lines: ["late"] })).toEqual([401, "EXPIRED_TOKEN"]);
  expect(await asJob("/v1/jobs/list", { workspaceId })).toEqual([401, "EXPIRED_TOKEN"]);
  const late = await runCli(["job", "block", "--reason", "too late"], {
    ...cli,
    env: { ...cli.env, IAS_JOB_TOKEN: jobToken, IAS_CONTROL_PLANE_URL: server.apiUrl },
  });
  expect(late.code).toBe(3);
  expect(late.stderr).toContain("EXPIRED_TOKEN");
});
