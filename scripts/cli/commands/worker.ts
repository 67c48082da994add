/** `ias worker start`: run jobs of the linked repos until Ctrl-C (or one job with --once). */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { releaseCheckoutLocksNow } from "../checkout-lock";
import { ensureMachineId, mappingsFor, readWorkerFile } from "../config";
import { killJobProcessesNow } from "../job-process";
import { optionalInt, optionalString, type Command } from "../command";
import { CliError, EXIT } from "../output";
import { openSession } from "../session";
import { CLI_VERSION } from "../version";
import { shellCommand, Worker } from "../worker";

/** A lease of a minute: a dead worker's job is back in the queue within about a minute, and
 *  the job heartbeat (a third of the lease) notices a cancel within 20 s. */
export const DEFAULT_WORKER_LEASE_MS = 60_000;
const DEFAULT_CANCEL_GRACE_MS = 10_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;
const DEFAULT_IDLE_BACKOFF_MS = { min: 1_000, max: 10_000 };

const start: Command = {
  path: ["worker", "start"],
  summary: "Run jobs of the linked repos: heartbeat, claim, run the configured command, report",
  usage: '[--once] [--command "<shell line>"] [--name <display name>] [--lease-ms <ms>] [--verbose]',
  options: {
    once: { type: "boolean", default: false },
    command: { type: "string" },
    name: { type: "string" },
    "lease-ms": { type: "string" },
    verbose: { type: "boolean", short: "v", default: false },
  },
  async run(context) {
    const { client, login, home } = openSession(context, {
      onRetry: ({ route, delayMs, reason }) => context.out.warn(`${route}: ${reason}; retrying in ${delayMs} ms`),
    });
    const config = readWorkerFile(home);
    const commandLine = optionalString(context, "command");
    const command = commandLine !== undefined ? shellCommand(commandLine) : config.command;
    if (command === undefined) {
      throw new CliError(
        `No job command configured. Set "command" in ${home}/worker.json (e.g. ["bash", "-c", "my-agent \\"$IAS_JOB_PROMPT\\""]) or pass --command.`,
        EXIT.USAGE,
      );
    }
    const mappings = mappingsFor(config, login.siteUrl, login.workspaceId);
    if (mappings.length === 0)
      context.out.warn('no repos linked for this workspace; run "ias repo link" in a checkout first.');
    const displayName = optionalString(context, "name") ?? config.displayName ?? hostname();
    const machineId = ensureMachineId(home);
    const idle = config.idleBackoffMs ?? DEFAULT_IDLE_BACKOFF_MS;
    const worker = new Worker({
      client,
      out: context.out,
      workspaceId: login.workspaceId,
      displayName,
      // Several workers may share a machine and config; each display name is its own worker.
      machineFingerprint: createHash("sha256").update(`${machineId}\0${displayName}`).digest("hex").slice(0, 40),
      capabilities: config.capabilities,
      checkouts: new Map(mappings.map((mapping) => [mapping.repoId, mapping.path])),
      command,
      leaseMs: optionalInt(context, "lease-ms") ?? config.leaseMs ?? DEFAULT_WORKER_LEASE_MS,
      cancelGraceMs: config.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS,
      heartbeatIntervalMs: config.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      idleBackoff: { baseMs: idle.min, maxMs: idle.max, jitter: 0.5 },
      once: context.values.once === true,
      verbose: context.values.verbose === true,
      agentVersion: `ias-cli/${CLI_VERSION}`,
    });
    // SIGHUP (terminal closed, ssh session gone) drains like Ctrl-C rather than killing the worker
    // with its job's processes left running.
    const stop = () => worker.stop();
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
    for (const signal of signals) process.on(signal, stop);
    // However the worker ends (a crash included), its job's processes and checkout lock go with it.
    const cleanUp = () => (killJobProcessesNow(), releaseCheckoutLocksNow());
    process.on("exit", cleanUp);
    try {
      return await worker.run();
    } finally {
      for (const signal of signals) process.off(signal, stop);
    }
  },
};

export const workerCommands: Command[] = [start];
