/** `ias worker start`: run jobs of the linked repos until Ctrl-C (or one job with --once). */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { releaseCheckoutLocksNow } from "../checkout-lock";
import { optionalInt, optionalString, type Command } from "../command";
import { killJobProcessesNow } from "../job-process";
import { DEFAULT_SPOOL_MAX_BYTES } from "../log-spool";
import { CliError, EXIT } from "../output";
import { openSession } from "../session";
import { CLI_VERSION } from "../version";
import { shellCommand, Worker } from "../worker";
import { commandOf, ensureWorkerIdentity, mappingsFor, workerFilePath } from "../worker-file";

/** A lease of a minute: a dead worker's job is back in the queue within about a minute, and
 *  the job heartbeat (a third of the lease) notices a cancel within 20 s. */
export const DEFAULT_WORKER_LEASE_MS = 60_000;
const DEFAULT_CANCEL_GRACE_MS = 10_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;
const DEFAULT_IDLE_BACKOFF_MS = { min: 1_000, max: 10_000 };

const start: Command = {
  path: ["worker", "start"],
  summary: "Run jobs of the linked repos: heartbeat, claim, run the configured command, report",
  details: [
    "The command gets the job as JSON on stdin and IAS_JOB_* variables. Output lines and the outcome",
    "wait on disk (the worker's state directory) until the control plane has them. Ctrl-C drains",
    "(the running job finishes); a second Ctrl-C stops the job and leaves it to lease recovery.",
  ],
  options: {
    once: { type: "boolean", default: false, description: "Run one job, then exit (0 when it ended done)" },
    command: {
      type: "string",
      value: '"<shell line>"',
      description: "The job command (default: ias.command in worker.json)",
    },
    name: {
      type: "string",
      value: "<name>",
      description: "Display name; each name is its own worker (default: worker.displayName)",
    },
    "lease-ms": {
      type: "string",
      value: "<ms>",
      int: { min: 1 },
      description: "Lease asked for each job (default 60000)",
    },
    verbose: { type: "boolean", short: "v", default: false, description: "Echo the job's output lines here too" },
  },
  async run(context) {
    const commandLine = optionalString(context, "command");
    const { client, login, home, workerFile } = await openSession(context, {
      onRetry: ({ route, delayMs, reason }) => context.out.warn(`${route}: ${reason}; retrying in ${delayMs} ms`),
    });
    const settings = workerFile.ias ?? {};
    const command = commandLine !== undefined ? shellCommand(commandLine) : commandOf(settings);
    if (command === undefined) {
      throw new CliError(
        `No job command configured. Set "ias": {"command": [...]} in ${workerFilePath(home)} (e.g. ["bash", "-c", "my-agent \\"$IAS_JOB_PROMPT\\""]) or pass --command.`,
        EXIT.USAGE,
        "USAGE_ERROR",
      );
    }
    const mappings = mappingsFor(workerFile, login);
    if (mappings.length === 0)
      context.out.warn('no repos linked for this workspace; run "ias repo link" in a checkout first.');
    const identity = ensureWorkerIdentity(home);
    const displayName = optionalString(context, "name") ?? identity.displayName;
    // The configured name is the machine's worker (the runner's too); each other name is its own.
    const machineFingerprint =
      displayName === identity.displayName
        ? identity.machineFingerprint
        : createHash("sha256").update(`${identity.machineFingerprint}\0${displayName}`).digest("hex").slice(0, 40);
    const idle = settings.idleBackoffMs ?? DEFAULT_IDLE_BACKOFF_MS;
    const worker = new Worker({
      client,
      out: context.out,
      workspaceId: login.workspaceId,
      displayName,
      machineFingerprint,
      capabilities: workerFile.capabilities ?? {},
      checkouts: new Map(mappings.map((mapping) => [mapping.repoId, mapping.localPath])),
      command,
      leaseMs: optionalInt(context, "lease-ms") ?? settings.leaseMs ?? DEFAULT_WORKER_LEASE_MS,
      cancelGraceMs: settings.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS,
      heartbeatIntervalMs: settings.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      idleBackoff: { baseMs: idle.min, maxMs: idle.max, jitter: 0.5 },
      once: context.values.once === true,
      verbose: context.values.verbose === true,
      agentVersion: `ias-cli/${CLI_VERSION}`,
      stateDir: join(
        settings.stateDir ?? join(home, "state"),
        `worker-${createHash("sha256").update(machineFingerprint).digest("hex").slice(0, 16)}`,
      ),
      spoolMaxBytes: settings.logSpoolMaxBytes ?? DEFAULT_SPOOL_MAX_BYTES,
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
