/** `ias jobs enqueue | list | get | events | cancel | retry`. */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve, sep } from "node:path";
import { text } from "node:stream/consumers";
import { JOB_KINDS, JOB_STATUS_FILTERS, isFinished, type JobStatus } from "../../../convex/model/jobs";
import { sleep } from "../backoff";
import { optionalInt, optionalString, positional, type Command, type CommandContext } from "../command";
import { CliError, EXIT } from "../output";
import { openSession, type Session } from "../session";
import { mappingsFor } from "../worker-file";

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

const JOB_ID = { name: "jobId", description: "The job's id", required: true };

const enqueue: Command = {
  path: ["jobs", "enqueue"],
  summary: "Add a job to the queue",
  details: ["Give the prompt with --prompt or --prompt-file (- reads stdin)."],
  options: {
    prompt: { type: "string", value: "<text>", description: "What the job is to do" },
    "prompt-file": { type: "string", value: "<path|->", description: "Read the prompt from a file (- for stdin)" },
    repo: { type: "string", value: "<repoId>", description: "The repo (default: the linked checkout you are in)" },
    kind: { type: "string", value: "<kind>", default: "work", choices: JOB_KINDS, description: "The job's kind" },
    role: { type: "string", value: "<role>", description: "The role the job is for (default implementer)" },
    priority: { type: "string", value: "<n>", int: {}, description: "Higher runs first (default 0)" },
    "max-attempts": { type: "string", value: "<n>", int: { min: 1 }, description: "Claims allowed (default 3)" },
    requirements: { type: "string", value: "<json>", description: "What the worker needs, e.g. '{\"canWrite\":true}'" },
    run: { type: "string", value: "<runId>", description: "The run the job belongs to" },
    "idempotency-key": { type: "string", value: "<key>", description: "A repeat with the same key is answered once" },
  },
  async run(context) {
    const requirements = parseJsonFlag(context, "requirements");
    const promptFile = optionalString(context, "prompt-file");
    const prompt =
      promptFile === undefined
        ? optionalString(context, "prompt")
        : promptFile === "-"
          ? await text(process.stdin)
          : readPromptFile(promptFile);
    if (prompt === undefined || prompt === "")
      throw new CliError("--prompt or --prompt-file is required.", EXIT.USAGE, "USAGE_ERROR");
    const session = await openSession(context);
    const body = {
      workspaceId: session.login.workspaceId,
      repoId: optionalString(context, "repo") ?? repoOfCurrentDirectory(session),
      kind: optionalString(context, "kind"),
      prompt,
      role: optionalString(context, "role"),
      priority: optionalInt(context, "priority"),
      maxAttempts: optionalInt(context, "max-attempts"),
      requirements,
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
  options: {
    status: { type: "string", value: "<status>", choices: JOB_STATUS_FILTERS, description: "Only jobs in this status" },
    repo: { type: "string", value: "<repoId>", description: "Only jobs of this repo" },
    run: { type: "string", value: "<runId>", description: "Only jobs of this run" },
    limit: { type: "string", value: "<n>", int: { min: 1, max: 200 }, description: "Page size (default 50)" },
    cursor: { type: "string", value: "<cursor>", description: "Go on from the previous page" },
  },
  async run(context) {
    const { client, login } = await openSession(context);
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
  args: [JOB_ID],
  async run(context) {
    const { client, login } = await openSession(context);
    const { job } = await client.call<{ job: Job }>("/v1/jobs/get", {
      workspaceId: login.workspaceId,
      jobId: positional(context, 0),
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
  args: [JOB_ID],
  options: {
    "after-seq": { type: "string", value: "<n>", int: { min: 0 }, description: "Only events after this seq" },
    limit: { type: "string", value: "<n>", int: { min: 1, max: 500 }, description: "Page size (default 500)" },
    follow: { type: "boolean", short: "f", default: false, description: "Keep printing until the job finishes" },
  },
  async run(context) {
    const { client, login } = await openSession(context);
    const jobId = positional(context, 0);
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
  args: [JOB_ID],
  options: { reason: { type: "string", value: "<text>", description: "Why (kept on the job's timeline)" } },
  async run(context) {
    const { client, login } = await openSession(context);
    const { job } = await client.call<{ job: Job }>("/v1/jobs/cancel", {
      workspaceId: login.workspaceId,
      jobId: positional(context, 0),
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
  args: [JOB_ID],
  async run(context) {
    const { client, login } = await openSession(context);
    const { job } = await client.call<{ job: Job }>("/v1/jobs/retry", {
      workspaceId: login.workspaceId,
      jobId: positional(context, 0),
    });
    context.out.result(
      { job },
      () => `Job ${job._id} is ${job.status} again (attempt ${job.attempts + 1} of ${job.maxAttempts}).`,
    );
  },
};

/** The linked repo whose checkout contains the current directory. */
function repoOfCurrentDirectory({ login, workerFile }: Session): string {
  const here = resolve(".");
  const mapping = mappingsFor(workerFile, login).find(
    (candidate) => here === candidate.localPath || here.startsWith(candidate.localPath + sep),
  );
  if (!mapping)
    throw new CliError(
      '--repo is required outside a linked checkout (see "ias repo list").',
      EXIT.USAGE,
      "USAGE_ERROR",
    );
  return mapping.repoId;
}

function readPromptFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(
      `Cannot read --prompt-file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
      EXIT.USAGE,
      "USAGE_ERROR",
    );
  }
}

function parseJsonFlag(context: CommandContext, name: string): unknown {
  const raw = optionalString(context, name);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new CliError(`--${name} must be JSON, e.g. '{"canWrite":true}'.`, EXIT.USAGE, "USAGE_ERROR");
  }
}

function oneLine(value: string, max: number): string {
  const flat = value.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A log event's lines, each with the time it was printed when the worker sent it (else the event's). */
function logLines(event: JobEvent): string {
  const { lines, lineTimes } = (event.data ?? {}) as { lines?: unknown; lineTimes?: unknown };
  if (event.type !== "log" || !Array.isArray(lines)) return "";
  const times = Array.isArray(lineTimes) && lineTimes.length === lines.length ? lineTimes : undefined;
  return lines
    .map((line, index) => `\n    ${times ? `${new Date(Number(times[index])).toISOString()} ` : ""}${line}`)
    .join("");
}

export const jobCommands: Command[] = [enqueue, list, get, events, cancel, retry];
