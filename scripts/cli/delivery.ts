/**
 * Getting a job's output and outcome to the control plane through outages: lines go from the
 * job's spool (log-spool.ts) to `/v1/jobs/log` in order with their print times, retried with
 * back-off for as long as it takes (the lines wait on disk meanwhile); the outcome is sent once
 * every line is acknowledged, retried while the lease lasts. Nothing is sent once the server says
 * the lease is gone. `deliverLeftovers` does the same, at start, for what a previous worker
 * process left (job-state.ts).
 */
import { backoffDelay, sleep, type BackoffPolicy } from "./backoff";
import { ApiError, isTransient, NetworkError, type ApiClient } from "./client";
import { JobState, type OutcomeRecord } from "./job-state";
import { truncateLine, type SpoolBatch } from "./log-spool";
import type { Output } from "./output";

export type DeliveryOptions = {
  client: ApiClient;
  out: Output;
  state: JobState;
  /** Whether to go on retrying: false once the lease is known to be over, or the worker stops hard. */
  keepTrying: () => boolean;
  /** Wakes a back-off sleep early (the worker's hard stop). */
  signal?: AbortSignal;
  onLeaseLost?: (error: unknown) => void;
  /** The server took a batch or the outcome (the worker's measure of progress). */
  onProgress?: () => void;
  retry?: BackoffPolicy;
  flushIntervalMs?: number;
};

export type DeliveryResult =
  /** `recorded`: the status the server recorded (a job's reported `blocked` wins over the worker's `done`). */
  | { status: "delivered"; recorded?: string }
  | { status: "lease_lost" }
  | { status: "gave_up"; lastError?: string }
  | { status: "refused"; error: string };

const DELIVERY_RETRY: BackoffPolicy = { baseMs: 500, maxMs: 5_000, jitter: 0.5 };
const LOST_LEASE = new Set(["LEASE_MISMATCH", "CLAIM_GENERATION_MISMATCH", "JOB_NOT_FOUND"]);
export const isLeaseLost = (error: unknown) => error instanceof ApiError && LOST_LEASE.has(error.code);
/** The lease is gone, or the token no longer works: nothing more can be sent for this job. */
const cannotSend = (error: unknown) =>
  isLeaseLost(error) || (error instanceof ApiError && (error.status === 401 || error.status === 403));
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class LogShipper {
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private failures = 0;
  private lastError: string | undefined;
  leaseLost = false;

  constructor(private readonly options: DeliveryOptions) {}

  /** Spools a line of output; it is sent within about a second (with those printed meanwhile). */
  push(line: string) {
    this.options.state.spool.append(truncateLine(line), Date.now());
    if (this.timer !== undefined || this.pumping !== undefined || this.leaseLost) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.kick();
    }, this.options.flushIntervalMs ?? 1_000);
  }

  /** Sends every spooled line; the result says whether they all got there. */
  async drain(): Promise<DeliveryResult> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.options.state.spool.close();
    for (;;) {
      await this.kick();
      if (this.options.state.spool.isEmpty()) return { status: "delivered" };
      if (this.leaseLost) return { status: "lease_lost" };
      if (!this.options.keepTrying()) return { status: "gave_up", lastError: this.lastError };
    }
  }

  private kick(): Promise<void> {
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
    return this.pumping;
  }

  private async pump() {
    const { client, out, state } = this.options;
    for (;;) {
      if (this.leaseLost) return;
      const batch = state.spool.next();
      if (batch === null) return;
      try {
        await client.call("/v1/jobs/log", logBody(state, batch), { attempts: 1, signal: this.options.signal });
        state.spool.ack(batch);
        this.options.onProgress?.();
        if (this.failures > 0)
          out.warn(`control plane answers again; sending the spooled log lines of job ${state.lease.jobId}`);
        this.failures = 0;
      } catch (error) {
        if (cannotSend(error)) {
          this.leaseLost = true;
          this.options.onLeaseLost?.(error);
          return;
        }
        this.lastError = errorText(error);
        if (this.options.signal?.aborted) return;
        if (!isRetryable(error)) {
          out.warn(`${batch.lines.length} log line(s) refused by the server and dropped: ${errorText(error)}`);
          state.spool.ack(batch); // the same request would be refused again
          continue;
        }
        if (++this.failures === 1)
          out.warn(`cannot send log lines (${errorText(error)}); keeping them in ${state.spool.dir} until it answers`);
        if (!this.options.keepTrying()) return;
        await sleep(retryDelay(error, this.failures, this.options.retry), this.options.signal);
        if (!this.options.keepTrying()) return;
      }
    }
  }
}

function logBody(state: JobState, batch: SpoolBatch) {
  const { workspaceId, jobId, workerId, claimGeneration } = state.lease;
  return {
    workspaceId,
    jobId,
    workerId,
    claimGeneration,
    lines: batch.lines,
    lineTimes: batch.lineTimes,
    ...(batch.droppedLines === undefined ? {} : { droppedLines: batch.droppedLines }),
  };
}

/** Sends the outcome until it is acknowledged, the lease is lost, the server refuses it, or trying stops. */
export async function deliverOutcome(options: DeliveryOptions, outcome: OutcomeRecord): Promise<DeliveryResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await options.client.call<{ result?: { status?: string } }>(outcome.route, outcome.body, {
        attempts: 1,
        signal: options.signal,
      });
      options.onProgress?.();
      return { status: "delivered", recorded: answer.result?.status };
    } catch (error) {
      if (options.signal?.aborted) return { status: "gave_up", lastError: errorText(error) };
      if (cannotSend(error)) return { status: "lease_lost" };
      if (!isRetryable(error)) return { status: "refused", error: errorText(error) };
      if (attempt === 1)
        options.out.warn(
          `cannot report the outcome of job ${options.state.lease.jobId} (${errorText(error)}); it is kept in ${options.state.dir} and retried while the lease lasts`,
        );
      if (!options.keepTrying()) return { status: "gave_up", lastError: errorText(error) };
      await sleep(retryDelay(error, attempt, options.retry), options.signal);
      if (!options.keepTrying()) return { status: "gave_up", lastError: errorText(error) };
    }
  }
}

/** The lines, then the outcome (never before every line is in: the server refuses lines after it). */
export async function deliverJob(options: DeliveryOptions, shipper: LogShipper): Promise<DeliveryResult> {
  const lines = await shipper.drain();
  const outcome = options.state.outcome();
  return lines.status !== "delivered" || outcome === undefined ? lines : deliverOutcome(options, outcome);
}

/**
 * What an earlier worker process left: delivered while each job's lease lasts, then removed.
 * A job without an outcome (the worker died while it ran) gets its lines; lease recovery does the rest.
 */
export async function deliverLeftovers(options: {
  client: ApiClient;
  out: Output;
  stateDir: string;
  siteUrl: string;
  workspaceId: string;
  spoolMaxBytes: number;
  signal: AbortSignal;
}) {
  const { out } = options;
  for (const state of JobState.leftovers(options.stateDir, options.spoolMaxBytes)) {
    const { jobId, siteUrl, workspaceId } = state.lease;
    if (Date.now() >= state.lease.leaseDeadline) {
      out.warn(`job ${jobId}: its lease ran out while this worker was stopped; what it left unsent is dropped`);
      state.remove();
      continue;
    }
    if (siteUrl !== options.siteUrl || workspaceId !== options.workspaceId) continue; // another login's
    const hasOutcome = state.outcome() !== undefined;
    out.event(
      "resuming",
      { jobId, outcome: hasOutcome },
      `Job ${jobId}: sending what the previous worker process left.`,
    );
    const delivery: DeliveryOptions = {
      ...options,
      state,
      keepTrying: () => Date.now() < state.lease.leaseDeadline && !options.signal.aborted,
    };
    const result = await deliverJob(delivery, new LogShipper(delivery));
    if (result.status === "gave_up" && options.signal.aborted) return; // stopped: kept for the next start
    out.event("resumed", { jobId, result: describe(result) }, `Job ${jobId}: ${describe(result)}.`);
    state.remove();
  }
}

export function describe(result: DeliveryResult): string {
  if (result.status === "delivered") return "delivered";
  if (result.status === "lease_lost") return "the lease was lost; the server has moved on";
  if (result.status === "refused") return `refused: ${result.error}`;
  return `not delivered while the lease lasted${result.lastError ? ` (last error: ${result.lastError})` : ""}`;
}

function isRetryable(error: unknown): boolean {
  return (error instanceof ApiError || error instanceof NetworkError) && isTransient(error);
}

function retryDelay(error: unknown, attempt: number, policy = DELIVERY_RETRY): number {
  if (error instanceof ApiError && error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, 30_000);
  return backoffDelay(attempt, policy);
}
