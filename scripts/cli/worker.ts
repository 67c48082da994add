/**
 * The worker loop (`ias worker start`): a worker heartbeat every 15 s advertising the mapped
 * repos, what an earlier process left undelivered sent first (delivery.ts), then a claim loop
 * that backs off with jitter while idle, and one job at a time (job-run.ts).
 *
 * Stopping: a drain by an admin (heartbeat answer `drainRequested`, or claim reason
 * `WORKER_DRAINING`) finishes the current job, reports `offline` and exits 0. The first SIGINT/SIGTERM drains (status `draining`, no new claims, the current job
 * finishes), then the worker reports `offline` and exits 0. A second one stops the current job
 * at once and exits without completing it: its lease expires and the server re-queues it.
 */
import { arch, platform } from "node:os";
import { backoffDelay, sleep, type BackoffPolicy } from "./backoff";
import { ApiError, NetworkError, type ApiClient } from "./client";
import { deliverLeftovers } from "./delivery";
import { runJob, type Claim, type JobRunResult } from "./job-run";
import { CliError, EXIT, type Output } from "./output";

export type WorkerOptions = {
  client: ApiClient;
  out: Output;
  workspaceId: string;
  displayName: string;
  machineFingerprint: string;
  capabilities: Record<string, unknown>;
  /** repoId -> checkout path. */
  checkouts: Map<string, string>;
  command: string[];
  leaseMs: number;
  cancelGraceMs: number;
  heartbeatIntervalMs: number;
  idleBackoff: BackoffPolicy;
  once: boolean;
  verbose: boolean;
  agentVersion: string;
  /** This worker's state directory: unsent log lines and outcomes (job-state.ts). */
  stateDir: string;
  spoolMaxBytes: number;
};

type WorkerStatus = "online" | "draining" | "offline";
type ClaimAnswer = {
  jobId: string | null;
  job: Claim["job"] | null;
  claimGeneration?: number;
  leaseExpiresAt?: number;
  jobToken?: string;
  reason?: string;
};

export class Worker {
  private status: WorkerStatus = "online";
  private workerId = "";
  private readonly drained = new AbortController();
  private readonly interrupted = new AbortController();
  private lastResult: JobRunResult | undefined;
  /** The heartbeat being sent (or the last one sent); the next one waits for it. */
  private heartbeatSending: Promise<void> = Promise.resolve();
  /** A heartbeat waiting for the one being sent; later callers share it. */
  private heartbeatQueued: Promise<void> | undefined;
  private heartbeatsOutstanding = 0;

  constructor(private readonly options: WorkerOptions) {}

  /** First call: drain. Second call: stop the running job now. */
  stop() {
    if (this.status === "online") {
      this.status = "draining";
      this.options.out.event(
        "draining",
        { workerId: this.workerId },
        "Draining: finishing the current job, then going offline (Ctrl-C again to stop now).",
      );
      this.drained.abort();
      void this.heartbeat().catch(() => {});
    } else {
      this.interrupted.abort();
    }
  }

  /** Runs until drained (or one job with --once); resolves to the exit code. */
  async run(): Promise<number> {
    const { out } = this.options;
    await this.heartbeat();
    out.event(
      "online",
      { workerId: this.workerId, repos: [...this.options.checkouts.keys()] },
      `Worker ${this.workerId} online (${this.options.displayName}), serving ${this.options.checkouts.size} repo(s).`,
    );
    const timer = setInterval(() => {
      if (this.heartbeatsOutstanding > 0) return; // the one still going out says the same
      this.heartbeat().catch((error) => out.warn(`worker heartbeat failed: ${(error as Error).message}`));
    }, this.options.heartbeatIntervalMs);
    try {
      await deliverLeftovers({
        client: this.options.client,
        out,
        stateDir: this.options.stateDir,
        siteUrl: this.options.client.siteUrl,
        workspaceId: this.options.workspaceId,
        spoolMaxBytes: this.options.spoolMaxBytes,
        signal: this.interrupted.signal,
      });
      await this.claimLoop();
    } finally {
      clearInterval(timer);
      this.status = "offline";
      await this.heartbeat().catch((error) => out.warn(`could not report offline: ${(error as Error).message}`));
      out.event("offline", { workerId: this.workerId }, `Worker ${this.workerId} offline.`);
    }
    if (this.options.once && this.lastResult) return this.lastResult.outcome === "done" ? EXIT.OK : EXIT.FAILED;
    return EXIT.OK;
  }

  private async claimLoop() {
    const { out, idleBackoff } = this.options;
    let idleRounds = 0;
    let warnedReason: string | undefined;
    while (this.status === "online") {
      let answer: ClaimAnswer;
      try {
        answer = await this.options.client.call<ClaimAnswer>(
          "/v1/jobs/claim-next",
          // Not aborted by a drain: a claim the server granted must be run, not dropped.
          { workspaceId: this.options.workspaceId, workerId: this.workerId, leaseMs: this.options.leaseMs },
        );
      } catch (error) {
        if (this.status !== "online") break;
        await this.recoverFromClaimError(error);
        await sleep(backoffDelay(++idleRounds, idleBackoff), this.drained.signal);
        continue;
      }
      if (answer.jobId === null || answer.job === null) {
        if (answer.reason === "WORKER_NOT_ONLINE") await this.heartbeat().catch(() => {});
        if (answer.reason === "WORKER_DRAINING") {
          this.drainAsServerAsks();
          break;
        }
        if (answer.reason !== "NO_JOBS" && answer.reason !== warnedReason) out.warn(claimReasonText(answer.reason));
        warnedReason = answer.reason;
        out.progress(`Waiting for jobs… (${answer.reason ?? "NO_JOBS"})`);
        await sleep(backoffDelay(++idleRounds, idleBackoff), this.drained.signal);
        continue;
      }
      idleRounds = 0;
      warnedReason = undefined;
      const claim = {
        jobId: answer.jobId,
        job: answer.job,
        claimGeneration: answer.claimGeneration!,
        leaseExpiresAt: answer.leaseExpiresAt!,
        ...(answer.jobToken === undefined ? {} : { jobToken: answer.jobToken }),
      };
      this.lastResult = await this.runClaimed(claim);
      if (this.options.once || this.lastResult.outcome === "interrupted") break;
    }
  }

  private async runClaimed(claim: Claim): Promise<JobRunResult> {
    const { out } = this.options;
    const { job } = claim;
    const checkout = this.options.checkouts.get(job.repoId);
    out.event(
      "claimed",
      { jobId: claim.jobId, kind: job.kind, repoId: job.repoId, claimGeneration: claim.claimGeneration, checkout },
      `Job ${claim.jobId} (${job.kind}) claimed; running in ${checkout ?? "?"}.`,
    );
    const startedAt = Date.now();
    const ticker = setInterval(
      () => out.progress(`Job ${claim.jobId} running ${Math.round((Date.now() - startedAt) / 1000)}s`),
      1_000,
    );
    try {
      const result =
        checkout === undefined
          ? await this.failUnmapped(claim)
          : await runJob({
              ...this.options,
              workerId: this.workerId,
              claim,
              checkout,
              interrupt: this.interrupted.signal,
            });
      out.event(
        "finished",
        { jobId: claim.jobId, outcome: result.outcome, message: result.message },
        `Job ${claim.jobId} ${result.outcome}: ${result.message}`,
      );
      return result;
    } finally {
      clearInterval(ticker);
    }
  }

  /** The server only hands out mapped repos, but worker.json may have changed since the heartbeat. */
  private async failUnmapped(claim: Claim): Promise<JobRunResult> {
    const message = `Repo ${claim.job.repoId} is not mapped to a checkout on this worker; run "ias repo link" there.`;
    try {
      await this.options.client.call("/v1/jobs/complete", {
        workspaceId: this.options.workspaceId,
        jobId: claim.jobId,
        workerId: this.workerId,
        claimGeneration: claim.claimGeneration,
        outcome: "failed",
        outcomeReason: "repo_not_mapped",
        message,
      });
    } catch (error) {
      // Not worth stopping the worker for: lease recovery re-queues (and ends) the job.
      return { outcome: "abandoned", message: `${message} Reporting that failed: ${(error as Error).message}` };
    }
    return { outcome: "failed", message };
  }

  /** Transient trouble is waited out; what cannot heal by waiting ends the worker. */
  private async recoverFromClaimError(error: unknown) {
    if (error instanceof NetworkError || (error instanceof ApiError && (error.status >= 500 || error.status === 429))) {
      this.options.out.warn(`claim failed, retrying: ${error.message}`);
      return;
    }
    if (error instanceof ApiError && error.code === "WORKER_NOT_FOUND") {
      await this.heartbeat(); // registered again under a new id
      return;
    }
    throw error;
  }

  /**
   * Heartbeats go out one after another, so `draining` can never overtake the final `offline`.
   * At most one waits behind the one being sent, and it reads the status when it goes out, so
   * callers while it waits share it: a slow server never gets a queue of stale heartbeats.
   */
  private heartbeat(): Promise<void> {
    if (this.heartbeatQueued) return this.heartbeatQueued;
    this.heartbeatsOutstanding++;
    const queued = this.heartbeatSending
      .catch(() => {})
      .then(() => {
        this.heartbeatQueued = undefined;
        return this.sendHeartbeat();
      })
      .finally(() => this.heartbeatsOutstanding--);
    this.heartbeatQueued = queued;
    this.heartbeatSending = queued;
    return queued;
  }

  private async sendHeartbeat() {
    const { client, workspaceId, displayName, machineFingerprint, capabilities, checkouts } = this.options;
    const repoIds = [...checkouts.keys()];
    const answer = await client.call<{ workerId: string; drainRequested?: boolean }>("/v1/workers/heartbeat", {
      workspaceId,
      displayName,
      machineFingerprint,
      status: this.status,
      capabilities: { ...capabilities, reposAllowed: repoIds },
      configuredRepoIds: repoIds,
      agentVersion: this.options.agentVersion,
      platform: platform(),
      arch: arch(),
      nodeVersion: process.versions.node,
    });
    this.workerId = answer.workerId;
    if (answer.drainRequested === true) this.drainAsServerAsks();
  }

  /** An admin drained this worker (heartbeat `drainRequested`, claim `WORKER_DRAINING`): finish, go offline, exit 0. */
  private drainAsServerAsks() {
    if (this.status !== "online") return;
    this.status = "draining";
    this.options.out.event(
      "draining",
      { workerId: this.workerId, requestedBy: "server" },
      "An admin drained this worker: finishing the current job, then going offline.",
    );
    this.drained.abort();
    void this.heartbeat().catch(() => {});
  }
}

function claimReasonText(reason: string | undefined): string {
  if (reason === "NO_REPOS_ALLOWED") return 'No repos mapped for this workspace; run "ias repo link" in a checkout.';
  if (reason === "WORKER_NOT_ONLINE") return "The server does not see this worker as online; sending a heartbeat.";
  return `No job handed out: ${reason}.`;
}

/** Parses `--command "<shell line>"` into argv for /bin/sh. */
export function shellCommand(line: string): string[] {
  if (line.trim() === "") throw new CliError("--command is empty.", EXIT.USAGE, "USAGE_ERROR");
  return ["/bin/sh", "-c", line];
}
