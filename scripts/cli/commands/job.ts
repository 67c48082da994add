/**
 * `ias job …`: what a job's command calls to talk back to its job while it runs (SPEC §7 decision
 * flow): block with a reason, evidence, an uncertainty for the Inbox, the run's milestone,
 * follow-up jobs, log lines. They authenticate with the job token `ias worker start` puts in
 * `IAS_JOB_TOKEN` (good for this job's claim only) at `IAS_CONTROL_PLANE_URL`, never with a login.
 */
import { randomUUID } from "node:crypto";
import { JOB_KINDS } from "../../../convex/model/jobs";
import { IMPACTS, REVERSIBILITIES, UNCERTAINTY_KINDS } from "../../../convex/model/promotion";
import { ApiClient } from "../client";
import { optionalInt, optionalString, positional, usageError, type Command, type CommandContext } from "../command";
import { CliError, EXIT } from "../output";
import { toSiteUrl } from "../url";

/** The job's own client: its token and URL from the environment the worker gave the command. */
function jobClient(context: CommandContext): ApiClient {
  const token = context.env.IAS_JOB_TOKEN;
  const url = context.env.IAS_CONTROL_PLANE_URL;
  if (!token || !url) {
    throw new CliError(
      "ias job commands run inside a job's command: IAS_JOB_TOKEN and IAS_CONTROL_PLANE_URL are set by ias worker start.",
      EXIT.AUTH,
      "NO_JOB_TOKEN",
    );
  }
  return new ApiClient({ siteUrl: toSiteUrl(url), token });
}

function requiredFlag(command: Command, context: CommandContext, name: string): string {
  const value = optionalString(context, name);
  if (value === undefined) throw usageError(command, `--${name} is required.`);
  return value;
}

const block: Command = {
  path: ["job", "block"],
  summary: "End this job blocked with a reason, whatever the command's exit code (not over a cancel)",
  details: [
    "The worker's completion records `blocked`, the reason as the job's message, and the evidence reported.",
    "After `ias job uncertainty` raised a decision request, blocking also blocks the run on it.",
  ],
  options: { reason: { type: "string", value: "<text>", description: "Why the job cannot go on (required)" } },
  async run(context) {
    const reason = requiredFlag(block, context, "reason");
    const answer = await jobClient(context).call("/v1/job/report", { outcome: "blocked", reason });
    context.out.result(answer, () => `This job will end blocked: ${reason}`);
  },
};

/** `key=value` pairs (values as strings) and JSON objects, merged left to right. */
function evidenceOf(command: Command, items: string[]): Record<string, unknown> {
  const evidence: Record<string, unknown> = {};
  for (const item of items) {
    if (item.trimStart().startsWith("{")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(item);
      } catch {
        throw usageError(command, `Not a JSON object: ${item.slice(0, 80)}`);
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
        throw usageError(command, "A JSON argument must be an object.");
      Object.assign(evidence, parsed);
      continue;
    }
    const equals = item.indexOf("=");
    if (equals <= 0) throw usageError(command, `Expected key=value or a JSON object, got "${item}".`);
    evidence[item.slice(0, equals)] = item.slice(equals + 1);
  }
  return evidence;
}

const evidence: Command = {
  path: ["job", "evidence"],
  summary: "Add evidence to this job's completion (key=value, or a JSON object with --json)",
  details: [
    "Examples: ias job evidence prUrl=https://… tests=green",
    `          ias job evidence --json '{"changedPaths": ["a.ts"]}'`,
    "Each call adds to what was reported before; reported keys win over the worker's git evidence.",
  ],
  args: [
    { name: "evidence", description: "key=value (a string value) or a JSON object", required: true, variadic: true },
  ],
  async run(context) {
    const reported = evidenceOf(evidence, context.positionals);
    const answer = await jobClient(context).call<{ evidence: object }>("/v1/job/report", { evidence: reported });
    context.out.result(answer, () => `Evidence now: ${JSON.stringify(answer.evidence)}`);
  },
};

const uncertainty: Command = {
  path: ["job", "uncertainty"],
  summary: "Raise an uncertainty of this job's run; promoted to an Inbox decision request by the usual rule",
  details: [
    "Promoted when --kind is approval, --confidence is below 0.8, or impact high with reversibility hard.",
    "Prints the decision request's id when it was promoted.",
  ],
  options: {
    prompt: { type: "string", value: "<text>", description: "The question for a person (required)" },
    kind: {
      type: "string",
      value: "<kind>",
      choices: UNCERTAINTY_KINDS,
      description: "What kind of question (required)",
    },
    confidence: { type: "string", value: "<0-1>", description: "How sure the job is of its assumption (required)" },
    impact: { type: "string", value: "<impact>", choices: IMPACTS, default: "medium", description: "Impact if wrong" },
    reversibility: {
      type: "string",
      value: "<how>",
      choices: REVERSIBILITIES,
      default: "moderate",
      description: "How hard a wrong choice is to undo",
    },
    context: { type: "string", value: "<text>", description: "Background for the person answering" },
    assumed: { type: "string", value: "<value>", description: "What the job assumes meanwhile" },
  },
  async run(context) {
    const prompt = requiredFlag(uncertainty, context, "prompt");
    const kind = requiredFlag(uncertainty, context, "kind");
    const rawConfidence = requiredFlag(uncertainty, context, "confidence");
    const confidence = Number(rawConfidence);
    if (!/^\d*\.?\d+$/.test(rawConfidence) || confidence > 1)
      throw usageError(uncertainty, `--confidence must be a number from 0 to 1, got "${rawConfidence}".`);
    const assumed = optionalString(context, "assumed");
    const body = {
      prompt,
      kind,
      confidence,
      impact: optionalString(context, "impact"),
      reversibility: optionalString(context, "reversibility"),
      context: optionalString(context, "context"),
      ...(assumed === undefined ? {} : { assumedValue: assumed }),
      // The same uncertainty once, however often a lost answer makes the client send it.
      idempotencyKey: `ias-job-${randomUUID()}`,
    };
    const answer = await jobClient(context).call<{
      uncertaintyId: string;
      decisionRequestId: string | null;
      tier: string;
    }>("/v1/job/uncertainties/create", body);
    context.out.result(answer, () =>
      answer.decisionRequestId === null
        ? `Uncertainty ${answer.uncertaintyId} recorded as assumed.`
        : `Uncertainty ${answer.uncertaintyId} is in the Inbox: decision request ${answer.decisionRequestId} (${answer.tier}).`,
    );
  },
};

const milestone: Command = {
  path: ["job", "milestone"],
  summary: "Set the current milestone of this job's run",
  args: [{ name: "milestone", description: "The milestone's name", required: true }],
  async run(context) {
    const name = positional(context, 0);
    const answer = await jobClient(context).call<{ runId: string }>("/v1/job/milestone", { milestone: name });
    context.out.result(answer, () => `Run ${answer.runId} is at milestone "${name}".`);
  },
};

const spawn: Command = {
  path: ["job", "spawn"],
  summary: "Propose a follow-up job, enqueued with this job's completion when it ends done or blocked",
  details: ["Repo and run default to this job's. Nothing is enqueued if the job fails or is canceled."],
  options: {
    kind: { type: "string", value: "<kind>", choices: JOB_KINDS, description: "The child's kind (required)" },
    prompt: { type: "string", value: "<text>", description: "The child's prompt (required)" },
    role: { type: "string", value: "<role>", description: "The child's role (default implementer)" },
    priority: {
      type: "string",
      value: "<n>",
      int: { min: -1_000_000, max: 1_000_000 },
      description: "Lower runs first",
    },
    repo: { type: "string", value: "<repoId>", description: "Another repo of the workspace" },
  },
  async run(context) {
    const child = {
      kind: requiredFlag(spawn, context, "kind"),
      prompt: requiredFlag(spawn, context, "prompt"),
      role: optionalString(context, "role"),
      priority: optionalInt(context, "priority"),
      repoId: optionalString(context, "repo"),
      // Proposed once however often a lost answer makes the client send it (the server skips a repeat).
      idempotencyKey: `ias-job-${randomUUID()}`,
    };
    const answer = await jobClient(context).call<{ proposed: number }>("/v1/job/children", { children: [child] });
    context.out.result(answer, () => `Proposed (${answer.proposed} so far); enqueued when this job completes.`);
  },
};

const log: Command = {
  path: ["job", "log"],
  summary: "Append a line to this job's timeline (besides the output the worker sends)",
  args: [
    { name: "text", description: "The line (several words are joined by spaces)", required: true, variadic: true },
  ],
  async run(context) {
    const answer = await jobClient(context).call("/v1/job/log", { lines: [context.positionals.join(" ")] });
    context.out.result(answer, () => "Logged.");
  },
};

export const jobReportCommands: Command[] = [block, evidence, uncertainty, milestone, spawn, log];
