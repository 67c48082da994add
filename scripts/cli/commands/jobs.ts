/** `ias jobs enqueue | list | get | events | cancel | retry`. */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve, sep } from "node:path";
import { text } from "node:stream/consumers";
import { JOB_KINDS, JOB_STATUSES, isFinished, type JobStatus } from "../../../convex/model/jobs";
import { sleep } from "../backoff";
import { mappingsFor, readWorkerFile } from "../config";
import { optionalInt, optionalString, positional, type Command, type CommandContext } from "../command";
import { CliError, EXIT } from "../output";
import { openSession, type Session } from "../session";

type Job = {
  _id: string;
  kind: string;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  prompt: string;
  repoId: string;
  outcome?: string;
  message?: string;
  [field: string]: unknown;
};
type JobEvent = { seq: number; type: string; at: number; message?: string; data?: unknown };

const enqueue: Command = {
  path: ["jobs", "enqueue"],
  summary: "Add a job to the queue",
  usage: `(--prompt <text> | --prompt-file <path|->) [--repo <repoId>] [--kind <${JOB_KINDS.join("|")}>] [--role <role>] [--priority <n>] [--max-attempts <n>] [--requirements <json>] [--run <runId>] [--idempotency-key <key>]`,
  options: {
    prompt: { type: "string" },
    "prompt-file": { type: "string" },
    repo: { type: "string" },
    kind: { type: "string", default: "work" },
    role: { type: "string" },
    priority: { type: "string" },
    "max-attempts": { type: "string" },
    requirements: { type: "string" },
    run: { type: "string" },
    "idempotency-key": { type: "string" },
  },
  async run(context) {
    const session = openSession(context);
    const promptFile = optionalString(context, "prompt-file");
    const prompt =
      promptFile === undefined
        ? optionalString(context, "prompt")
        : promptFile === "-"
          ? await text(process.stdin)
          : readPromptFile(promptFile);
    if (prompt === undefined || prompt === "") throw new CliError("--prompt or --prompt-file is required.", EXIT.USAGE);
    const body = {
      workspaceId: session.login.workspaceId,
      repoId: optionalString(context, "repo") ?? repoOfCurrentDirectory(context, session),
      kind: optionalString(context, "kind"),
      prompt,
      role: optionalString(context, "role"),
      priority: optionalInt(context, "priority"),
      maxAttempts: optionalInt(context, "max-attempts"),
      requirements: parseJsonFlag(context, "requirements"),
      runId: optionalString(context, "run"),
      // A key per invocation makes the client's retries after a network error safe.
      idempotencyKey: optionalString(context, "idempotency-key") ?? `cli-${randomUUID()}`,
    };
    const answer = await session.client.call<{ jobId: string; deduplicated: boolean }>("/v1/jobs/enqueue", body);
    context.out.result(answer, () => `${answer.deduplicated ? "Already queued" : "Queued"} job ${answer.jobId}`);
  },
};

const list: Command = {
  path: ["jobs", "list"],
  summary: "List jobs, newest first",
  usage: `[--status <${JOB_STATUSES.join("|")}>] [--repo <repoId>] [--run <runId>] [--limit <1-200>] [--cursor <cursor>]`,
  options: {
    status: { type: "string" },
    repo: { type: "string" },
    run: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
  },
  async run(context) {
    const { client, login } = openSession(context);
    const answer = await client.call<{ jobs: Job[]; nextCursor: string | null }>("/v1/jobs/list", {
      workspaceId: login.workspaceId,
      status: optionalString(context, "status"),
      repoId: optionalString(context, "repo"),
      runId: optionalString(context, "run"),
      limit: optionalInt(context, "limit"),
      cursor: optionalString(context, "cursor"),
    });
    context.out.result(answer, () => [
      ...(answer.jobs.length === 0
        ? ["No jobs."]
        : answer.jobs.map(
            (job) =>
              `${job._id}  ${job.status.padEnd(8)}  ${job.kind.padEnd(12)}  ${job.attempts}/${job.maxAttempts}  ${oneLine(job.prompt, 60)}`,
          )),
      ...(answer.nextCursor ? [`More: --cursor ${answer.nextCursor}`] : []),
    ]);
  },
};

const get: Command = {
  path: ["jobs", "get"],
  summary: "Show one job",
  usage: "<jobId>",
  async run(context) {
    const { client, login } = openSession(context);
    const { job } = await client.call<{ job: Job }>("/v1/jobs/get", {
      workspaceId: login.workspaceId,
      jobId: positional(context, 0, "jobId"),
    });
    context.out.result({ job }, () => [
      `Job ${job._id}: ${job.status}${job.outcome ? ` (${job.outcome})` : ""}, ${job.kind}, attempt ${job.attempts}/${job.maxAttempts}, repo ${job.repoId}`,
      `  prompt: ${oneLine(job.prompt, 200)}`,
      ...(job.message ? [`  message: ${job.message}`] : []),
      ...(job.evidence ? [`  evidence: ${JSON.stringify(job.evidence)}`] : []),
    ]);
  },
};

const events: Command = {
  path: ["jobs", "events"],
  summary: "Show a job's timeline (--follow: keep printing until the job finishes)",
  usage: "<jobId> [--after-seq <n>] [--limit <page size, 1-500>] [--follow]",
  options: {
    "after-seq": { type: "string" },
    limit: { type: "string" },
    follow: { type: "boolean", short: "f", default: false },
  },
  async run(context) {
    const { client, login } = openSession(context);
    const jobId = positional(context, 0, "jobId");
    let afterSeq = optionalInt(context, "after-seq");
    const limit = optionalInt(context, "limit") ?? 500;
    const print = (event: JobEvent) =>
      context.out.result(
        event,
        () =>
          `#${event.seq} ${new Date(event.at).toISOString()} ${event.type}${event.message ? `: ${event.message}` : ""}${logLines(event)}`,
      );
    /** Prints every event after `afterSeq`, page by page, until a page comes back empty. */
    const printRest = async () => {
      for (;;) {
        const page = await client.call<{ events: JobEvent[] }>("/v1/job-events/list-for-job", {
          workspaceId: login.workspaceId,
          jobId,
          afterSeq,
          limit,
        });
        if (page.events.length === 0) return;
        page.events.forEach(print);
        afterSeq = page.events.at(-1)!.seq;
      }
    };
    for (;;) {
      await printRest();
      if (!context.values.follow) return;
      const { job } = await client.call<{ job: Job }>("/v1/jobs/get", { workspaceId: login.workspaceId, jobId });
      if (isFinished(job.status)) return printRest(); // events written between the last page and the status read
      await sleep(2_000);
    }
  },
};

const cancel: Command = {
  path: ["jobs", "cancel"],
  summary: "Cancel a pending job, or ask the worker of a running job to stop",
  usage: "<jobId> [--reason <text>]",
  options: { reason: { type: "string" } },
  async run(context) {
    const { client, login } = openSession(context);
    const { job } = await client.call<{ job: Job }>("/v1/jobs/cancel", {
      workspaceId: login.workspaceId,
      jobId: positional(context, 0, "jobId"),
      reason: optionalString(context, "reason"),
    });
    context.out.result({ job }, () =>
      job.status === "canceled"
        ? `Job ${job._id} canceled.`
        : `Cancel requested; the worker of job ${job._id} will stop it.`,
    );
  },
};

const retry: Command = {
  path: ["jobs", "retry"],
  summary: "Put a failed, blocked or canceled job back in the queue",
  usage: "<jobId>",
  async run(context) {
    const { client, login } = openSession(context);
    const { job } = await client.call<{ job: Job }>("/v1/jobs/retry", {
      workspaceId: login.workspaceId,
      jobId: positional(context, 0, "jobId"),
    });
    context.out.result(
      { job },
      () => `Job ${job._id} is ${job.status} again (attempt ${job.attempts + 1} of ${job.maxAttempts}).`,
    );
  },
};

/** The linked repo whose checkout contains the current directory. */
function repoOfCurrentDirectory(context: CommandContext, { login, home }: Session): string {
  const here = resolve(".");
  const mapping = mappingsFor(readWorkerFile(home), login.siteUrl, login.workspaceId).find(
    (candidate) => here === candidate.path || here.startsWith(candidate.path + sep),
  );
  if (!mapping) throw new CliError('--repo is required outside a linked checkout (see "ias repo list").', EXIT.USAGE);
  return mapping.repoId;
}

function readPromptFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(
      `Cannot read --prompt-file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
      EXIT.USAGE,
    );
  }
}

function parseJsonFlag(context: CommandContext, name: string): unknown {
  const raw = optionalString(context, name);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new CliError(`--${name} must be JSON, e.g. '{"canWrite":true}'.`, EXIT.USAGE);
  }
}

function oneLine(value: string, max: number): string {
  const flat = value.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function logLines(event: JobEvent): string {
  const lines = (event.data as { lines?: unknown } | undefined)?.lines;
  return event.type === "log" && Array.isArray(lines) ? lines.map((line) => `\n    ${line}`).join("") : "";
}

export const jobCommands: Command[] = [enqueue, list, get, events, cancel, retry];
