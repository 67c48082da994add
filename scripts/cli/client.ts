/**
 * The HTTP client for the control-plane API: POSTs JSON, reads the `{ok, ...}` envelope, turns
 * `{ok:false}` into an `ApiError` carrying the server's code, and retries what is transient.
 *
 * Retried with back-off: network failures, timeouts and 5xx (the server did not decide), and
 * 429 RATE_LIMITED (the server asked us to come back later). Never other 4xx: the same request
 * would fail the same way. Retrying a POST can repeat it; the routes the worker repeats are
 * safe (complete is idempotent, heartbeat extends the same lease) and `jobs enqueue` sends an
 * idempotency key, so at worst a log batch is appended twice.
 */
import { backoffDelay, sleep, type BackoffPolicy } from "./backoff";
import { apiBaseUrl } from "./url";

export type ErrorIssue = { path: string; message: string };

/** The server answered `{ok:false}` (or something that is not the envelope). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly issues?: ErrorIssue[],
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** No answer at all after every retry: DNS, refused connection, timeout. */
export class NetworkError extends Error {
  override name = "NetworkError";
  readonly code = "NETWORK_ERROR";
}

export type ClientOptions = {
  siteUrl: string;
  token?: string;
  /** Attempts per call, first one included. */
  attempts?: number;
  backoff?: BackoffPolicy;
  timeoutMs?: number;
  /** Called before each retry (the worker prints it). */
  onRetry?: (info: { route: string; attempt: number; delayMs: number; reason: string }) => void;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
};

export type CallOptions = { attempts?: number; signal?: AbortSignal };

export const DEFAULT_RETRY: BackoffPolicy = { baseMs: 250, maxMs: 8_000, jitter: 0.5 };
const MAX_RETRY_AFTER_MS = 30_000;

export class ApiClient {
  readonly siteUrl: string;
  private readonly options: Required<Omit<ClientOptions, "token" | "onRetry">> &
    Pick<ClientOptions, "token" | "onRetry">;

  constructor(options: ClientOptions) {
    this.siteUrl = options.siteUrl;
    this.options = {
      attempts: 5,
      backoff: DEFAULT_RETRY,
      timeoutMs: 30_000,
      fetch: globalThis.fetch,
      sleep: (ms) => sleep(ms),
      ...options,
    };
  }

  /** POST `route` (e.g. `/v1/jobs/get`) and return the success fields. */
  async call<T = Record<string, unknown>>(route: string, body: object, callOptions: CallOptions = {}): Promise<T> {
    return this.request<T>("POST", route, body, callOptions);
  }

  /** Whether `text` contains this client's token (so it is not handed to job commands). */
  revealsToken(text: string): boolean {
    return this.options.token !== undefined && this.options.token !== "" && text.includes(this.options.token);
  }

  /** GET `route`; for health and the OpenAPI document. */
  async get<T = Record<string, unknown>>(route: string, callOptions: CallOptions = {}): Promise<T> {
    return this.request<T>("GET", route, undefined, callOptions);
  }

  private async request<T>(
    method: "GET" | "POST",
    route: string,
    body: object | undefined,
    callOptions: CallOptions,
  ): Promise<T> {
    const attempts = callOptions.attempts ?? this.options.attempts;
    for (let attempt = 1; ; attempt++) {
      let failure: ApiError | NetworkError;
      try {
        return await this.once<T>(method, route, body, callOptions.signal);
      } catch (error) {
        if (!(error instanceof ApiError || error instanceof NetworkError)) throw error;
        failure = error;
      }
      if (!isTransient(failure) || attempt >= attempts || callOptions.signal?.aborted) throw failure;
      const delayMs =
        failure instanceof ApiError && failure.retryAfterMs !== undefined
          ? Math.min(failure.retryAfterMs, MAX_RETRY_AFTER_MS)
          : backoffDelay(attempt, this.options.backoff);
      this.options.onRetry?.({ route, attempt, delayMs, reason: failure.message });
      await this.options.sleep(delayMs);
    }
  }

  private async once<T>(
    method: "GET" | "POST",
    route: string,
    body: object | undefined,
    signal?: AbortSignal,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    try {
      response = await this.options.fetch(`${apiBaseUrl(this.siteUrl)}${route}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      throw new NetworkError(`Cannot reach ${this.siteUrl}: ${describeFetchError(error)}`);
    }
    const text = await response.text().catch(() => "");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(
        `HTTP_${response.status}`,
        `${this.siteUrl} answered HTTP ${response.status} without a JSON body; is this a control-plane URL?`,
        response.status,
      );
    }
    return readEnvelope<T>(parsed, response.status, route);
  }
}

/** The success fields of an envelope, or the ApiError it describes. */
export function readEnvelope<T>(parsed: unknown, status: number, route = ""): T {
  const envelope = (parsed ?? {}) as Record<string, unknown>;
  if (route.endsWith("/openapi.json") && status === 200) return envelope as T; // the document has no envelope
  if (envelope.ok === true) {
    const { ok: _ok, ...fields } = envelope;
    return fields as T;
  }
  if (envelope.ok === false && typeof envelope.error === "string") {
    throw new ApiError(
      envelope.error,
      typeof envelope.message === "string" ? envelope.message : envelope.error,
      status,
      Array.isArray(envelope.issues) ? (envelope.issues as ErrorIssue[]) : undefined,
      typeof envelope.retryAfterMs === "number" ? envelope.retryAfterMs : undefined,
    );
  }
  throw new ApiError(
    `HTTP_${status}`,
    `Unexpected answer (HTTP ${status}) that is not the control-plane envelope.`,
    status,
  );
}

export function isTransient(error: ApiError | NetworkError): boolean {
  if (error instanceof NetworkError) return true;
  return error.status >= 500 || error.code === "RATE_LIMITED";
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "the request timed out";
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
