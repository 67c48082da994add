/**
 * One WebSocket of the Convex sync protocol (one `ConvexClient`/`ConvexReactClient`): the query
 * set and identity the client asked for, mutations in order, actions concurrently, and the
 * Transitions that keep its subscriptions current. Modelled on the deployment's sync worker:
 * client messages only update pending state and schedule an update; one update runs at a time,
 * re-runs every subscribed query in one snapshot and sends what changed.
 */
import { WebSocket } from "ws";
import type { JSONValue } from "convex/values";
import { isResolved, outcomeOf, type QueryRequest } from "./functions";
import { AuthFailure, type VerifiedIdentity } from "./identity";
import {
  encodeActionResponse,
  encodeAuthError,
  encodeFatalError,
  encodeMutationResponse,
  encodeTransition,
  parseClientMessage,
  PING,
  ProtocolError,
  type ClientMessage,
  type QuerySetModification,
  type StateVersion,
  type TransitionEntry,
} from "./protocol";
import type { ConvexRuntime } from "./runtime";

/** A sync Ping after this long without any other message keeps the client's inactivity timer quiet (as deployments do). */
const PING_AFTER_MS = 15_000;
/** WebSocket-level ping; a client that has not answered the previous one by the next is gone. */
const LIVENESS_MS = 30_000;
/** Past this much unsent output the client is not reading; the next update waits for it to drain. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const MAX_TIMER_MS = 2_147_483_647;

type Message<T extends ClientMessage["type"]> = Extract<ClientMessage, { type: T }>;
type Subscription = { request: QueryRequest; lastKey: string | undefined };

export class SyncSession {
  /** The version the client holds: the end of the last Transition sent. */
  private sent: StateVersion = { querySet: 0, identity: 0, ts: 0n };
  /** The versions the client's messages have announced so far. */
  private received = { querySet: 0, identity: 0 };
  private knownQueryIds = new Set<number>();
  private pendingModifications: QuerySetModification[] = [];
  /** undefined: no change pending; null: signed out. */
  private pendingIdentity: VerifiedIdentity | null | undefined = undefined;
  private identity: VerifiedIdentity | null = null;
  private queries = new Map<number, Subscription>();
  /** Highest ts of a MutationResponse sent that no later Transition has reached yet. */
  private mutationTsToReach: bigint | null = null;
  private updateScheduled = false;
  private updating = false;
  private inbox: Promise<void> = Promise.resolve();
  private mutations: Promise<void> = Promise.resolve();
  private clientClockSkew: number | undefined;
  private closed = false;
  private lastSentAt = Date.now();
  private alive = true;
  private readonly heartbeat: NodeJS.Timeout;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly runtime: ConvexRuntime,
    private readonly onClosed: (session: SyncSession) => void,
  ) {
    socket.on("message", (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      this.inbox = this.inbox
        .then(() =>
          text === null ? this.fatal("Binary WebSocket frames are not part of the protocol.") : this.handle(text),
        )
        .catch((error) => this.fail(error));
    });
    socket.on("pong", () => (this.alive = true));
    socket.on("close", () => this.shutdown());
    socket.on("error", () => this.shutdown());
    let sincePing = 0;
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastSentAt >= PING_AFTER_MS) this.send(PING);
      sincePing += 5_000;
      if (sincePing < LIVENESS_MS) return;
      sincePing = 0;
      if (!this.alive) return void socket.terminate();
      this.alive = false;
      socket.ping();
    }, 5_000);
    this.heartbeat.unref();
  }

  /** Something committed: re-run this client's queries (coalesced with any update already due). */
  scheduleUpdate() {
    if (this.closed) return;
    this.updateScheduled = true;
    if (!this.updating) void this.runUpdates();
  }

  /** Server shutdown: the client reconnects, as after a deployment restart. */
  close() {
    this.socket.close(1001, "Server shutting down");
    this.shutdown();
  }

  private async handle(text: string) {
    if (this.closed) return;
    const message = parseClientMessage(text);
    switch (message.type) {
      case "Connect":
        // How far the client's clock is ahead of ours; the client uses it to time token refreshes.
        if (message.clientTs !== undefined) this.clientClockSkew = Math.round(message.clientTs - Date.now());
        return;
      case "ModifyQuerySet":
        return this.modifyQuerySet(message);
      case "Authenticate":
        return await this.authenticate(message);
      case "Mutation":
      case "Action":
        return this.request(message);
      case "Event":
        return; // client metrics; a deployment only logs them
    }
  }

  private modifyQuerySet(message: Message<"ModifyQuerySet">) {
    const { baseVersion, newVersion } = message;
    if (baseVersion !== this.received.querySet) {
      throw new ProtocolError(
        `ModifyQuerySet: base version ${baseVersion} does not match the current query set version ${this.received.querySet}.`,
      );
    }
    if (newVersion <= baseVersion) {
      throw new ProtocolError(
        `ModifyQuerySet: newVersion ${newVersion} must be greater than baseVersion ${baseVersion}.`,
      );
    }
    for (const modification of message.modifications) {
      const { queryId } = modification;
      if (modification.type === "Add") {
        if (this.knownQueryIds.has(queryId))
          throw new ProtocolError(`ModifyQuerySet: query ${queryId} is already subscribed.`);
        if (modification.componentPath) throw new ProtocolError("ModifyQuerySet: local mode runs root functions only.");
        this.knownQueryIds.add(queryId);
      } else if (!this.knownQueryIds.delete(queryId)) {
        throw new ProtocolError(`ModifyQuerySet: query ${queryId} is not subscribed.`);
      }
    }
    this.pendingModifications.push(...message.modifications);
    this.received.querySet = newVersion;
    this.scheduleUpdate();
  }

  private async authenticate(message: Message<"Authenticate">) {
    if (message.baseVersion !== this.received.identity) {
      throw new ProtocolError(
        `Authenticate: base version ${message.baseVersion} does not match the current identity version ${this.received.identity}.`,
      );
    }
    let identity: VerifiedIdentity | null = null;
    if (message.tokenType === "Admin") {
      return this.authError(
        "Admin keys are not used by local mode; authenticate with a user JWT.",
        message.baseVersion,
        true,
      );
    }
    if (message.tokenType === "User") {
      try {
        identity = await this.runtime.verify(message.value);
      } catch (error) {
        if (error instanceof AuthFailure) return this.authError(error.message, message.baseVersion, true);
        throw error;
      }
    }
    if (this.closed) return;
    this.pendingIdentity = identity;
    this.received.identity += 1;
    this.scheduleUpdate();
  }

  /** Mutations run one at a time in the order sent (as on a deployment); actions run at once. */
  private request(message: Message<"Mutation"> | Message<"Action">) {
    const identity = this.currentIdentity();
    if (identity === "expired") return;
    const kind = message.type === "Mutation" ? "mutation" : "action";
    const run = async () => {
      if (this.closed) return;
      const { runner, clock } = this.runtime;
      const resolved = message.componentPath
        ? { success: false as const, errorMessage: "Local mode runs root functions only." }
        : await runner.resolvePublic(message.udfPath, kind);
      const argsJson = (message.args.length === 1 ? message.args[0] : null) as JSONValue;
      const { result, ts } = isResolved(resolved)
        ? await runner.runWrite(resolved, identity, argsJson)
        : { result: resolved, ts: clock.now() };
      await this.runtime.durable();
      if (this.closed) return;
      if (kind === "action") return void this.send(encodeActionResponse(message.requestId, outcomeOf(result)));
      this.send(encodeMutationResponse(message.requestId, outcomeOf(result), ts));
      // The client settles the mutation (and drops its optimistic update) at a Transition past `ts`.
      if (result.success && (this.mutationTsToReach === null || ts > this.mutationTsToReach))
        this.mutationTsToReach = ts;
      this.scheduleUpdate();
    };
    if (kind === "action") void run().catch((error) => this.fail(error));
    else this.mutations = this.mutations.then(run).catch((error) => this.fail(error));
  }

  /** The identity a request runs as (a pending Authenticate counts), unless it has expired. */
  private currentIdentity(): VerifiedIdentity | null | "expired" {
    const identity = this.pendingIdentity !== undefined ? this.pendingIdentity : this.identity;
    if (identity !== null && identity.expiresAt !== null && identity.expiresAt <= Date.now()) {
      this.authError("Convex token identity expired.", this.sent.identity, false);
      return "expired";
    }
    return identity;
  }

  private async runUpdates() {
    this.updating = true;
    try {
      while (this.updateScheduled && !this.closed) {
        this.updateScheduled = false;
        while (this.socket.bufferedAmount > MAX_BUFFERED_BYTES && !this.closed) await delay(20);
        await this.update();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.updating = false;
    }
  }

  private async update() {
    // Results must reflect every commit made before this update began (later ones schedule another).
    const notBefore = this.runtime.clock.now();
    const modifications = this.pendingModifications.splice(0);
    const querySet = this.received.querySet;
    let identityVersion = this.sent.identity;
    if (this.pendingIdentity !== undefined) {
      this.identity = this.pendingIdentity;
      this.pendingIdentity = undefined;
      identityVersion = this.received.identity;
      this.armExpiryTimer();
    }
    if (this.currentIdentity() === "expired") return;
    const entries: TransitionEntry[] = [];
    for (const modification of modifications) {
      if (modification.type === "Add") {
        const argsJson = (modification.args.length === 1 ? modification.args[0] : null) as JSONValue;
        const request = {
          path: modification.udfPath,
          argsJson,
          argsKey: JSON.stringify(argsJson),
          journal: modification.journal ?? null,
        };
        this.queries.set(modification.queryId, { request, lastKey: undefined });
      } else {
        this.queries.delete(modification.queryId);
        entries.push({ type: "QueryRemoved", queryId: modification.queryId });
      }
    }
    const subscriptions = [...this.queries.entries()];
    const { ts, results } =
      subscriptions.length === 0
        ? { ts: this.runtime.clock.now(), results: [] }
        : await this.runtime.runner.runQueries(
            this.identity,
            subscriptions.map(([, subscription]) => subscription.request),
            notBefore,
          );
    subscriptions.forEach(([queryId, subscription], i) => {
      const { outcome, journal, key } = results[i]!;
      subscription.request.journal = journal;
      if (key === subscription.lastKey) return;
      subscription.lastKey = key;
      entries.push(
        outcome.success
          ? { type: "QueryUpdated", queryId, valueJson: outcome.valueJson, journal }
          : {
              type: "QueryFailed",
              queryId,
              errorMessage: outcome.errorMessage,
              errorDataJson: outcome.errorDataJson,
              journal,
            },
      );
    });
    const end: StateVersion = { querySet, identity: identityVersion, ts: ts > this.sent.ts ? ts : this.sent.ts };
    const reachesMutation = this.mutationTsToReach !== null && end.ts >= this.mutationTsToReach;
    const changed = entries.length > 0 || end.querySet !== this.sent.querySet || end.identity !== this.sent.identity;
    if (!changed && !reachesMutation) return;
    await this.runtime.durable();
    if (this.closed) return;
    this.send(encodeTransition(this.sent, end, entries, this.clientClockSkew));
    this.sent = end;
    // Read again: a MutationResponse sent while this update awaited durability may already be reached.
    if (this.mutationTsToReach !== null && end.ts >= this.mutationTsToReach) this.mutationTsToReach = null;
  }

  /** At the token's expiry an update finds it expired and tells the client to refresh. */
  private armExpiryTimer() {
    clearTimeout(this.expiryTimer);
    const expiresAt = this.identity?.expiresAt;
    if (expiresAt == null) return;
    this.expiryTimer = setTimeout(
      () => this.scheduleUpdate(),
      Math.min(Math.max(0, expiresAt - Date.now() + 10), MAX_TIMER_MS),
    );
    this.expiryTimer.unref();
  }

  /** As a deployment does: AuthError, then close; the client fetches a fresh token and reconnects. */
  private authError(error: string, baseVersion: number, authUpdateAttempted: boolean) {
    if (this.closed) return;
    this.send(encodeAuthError(error, baseVersion, authUpdateAttempted));
    this.socket.close(1000, "AuthError");
    this.shutdown();
  }

  private fatal(error: string) {
    if (this.closed) return;
    this.send(encodeFatalError(error));
    this.socket.close(1008, "FatalError");
    this.shutdown();
  }

  private fail(error: unknown) {
    if (error instanceof ProtocolError) return this.fatal(error.message);
    if (this.closed) return;
    this.runtime.log(`Local server: sync session failed: ${error instanceof Error ? error.stack : String(error)}`);
    this.socket.close(1011, "InternalServerError");
    this.shutdown();
  }

  private send(text: string) {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(text);
    this.lastSentAt = Date.now();
  }

  private shutdown() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.expiryTimer);
    this.onClosed(this);
  }
}

function delay(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
