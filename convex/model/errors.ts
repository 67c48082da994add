import { ConvexError } from "convex/values";

/**
 * Every error code the API can answer, with its HTTP status. The one list:
 * the endpoint wrapper maps codes to statuses from here and OpenAPI documents them from here.
 */
export const ERROR_STATUS = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  MISSING_TOKEN: 401,
  INVALID_TOKEN: 401,
  EXPIRED_TOKEN: 401,
  /** Console functions called without a signed-in user. */
  UNAUTHENTICATED: 401,
  /** `/integrations/events/v1/ingest`: `x-ias-integration-event-secret` missing or wrong. */
  INVALID_INTEGRATION_SECRET: 401,
  /** Slack events: `X-Slack-Signature` missing or wrong, or its timestamp more than 5 minutes off. */
  INVALID_SIGNATURE: 401,
  FORBIDDEN: 403,
  /** A job token (`IAS_JOB_TOKEN`) on a route it does not cover, or another token on a `/v1/job/*` route. */
  TOKEN_SCOPE: 403,
  ROUTE_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  WORKER_NOT_FOUND: 404,
  REPO_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  UNCERTAINTY_NOT_FOUND: 404,
  UPLOAD_NOT_FOUND: 404,
  WORKSPACE_NOT_FOUND: 404,
  DEVICE_SESSION_NOT_FOUND: 404,
  CONTEXT_PACK_NOT_FOUND: 404,
  /** Console: a Context Lake item, run trigger or Slack binding missing or of another workspace. */
  CONTEXT_ITEM_NOT_FOUND: 404,
  RUN_TRIGGER_NOT_FOUND: 404,
  SLACK_BINDING_NOT_FOUND: 404,
  /** A decision request id (Inbox, `blockedByDecisionRequestId`) missing or of another workspace. */
  DECISION_REQUEST_NOT_FOUND: 404,
  /** Console: no account has that email or id (adding a member). */
  USER_NOT_FOUND: 404,
  /** Console: that user is not a member of the workspace. */
  MEMBER_NOT_FOUND: 404,
  /** Console: a token that is not yours (or not a service token of that workspace) or does not exist. */
  TOKEN_NOT_FOUND: 404,
  /** Console: a webhook endpoint missing or of another workspace. */
  WEBHOOK_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** Local mode only: a `Host` header that is not the local server's loopback address (DNS rebinding). */
  HOST_NOT_ALLOWED: 421,
  LEASE_MISMATCH: 409,
  CLAIM_GENERATION_MISMATCH: 409,
  INVALID_JOB_STATE: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  /** Answering or dismissing a decision request that is already closed another way. */
  INVALID_DECISION_STATE: 409,
  /** Approving or denying a device login that is already decided the other way, or expired. */
  INVALID_DEVICE_SESSION_STATE: 409,
  /** Removing or demoting the only owner of a workspace. */
  LAST_OWNER: 409,
  /** Console: a slug, member or similar unique value already exists. */
  CONFLICT: 409,
  REQUEST_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  /** An integration whose secret is not configured on this deployment. */
  NOT_CONFIGURED: 503,
  /** `GET /control-plane/ready`: the database did not answer. */
  NOT_READY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type ErrorIssue = { path: string; message: string };

/** The payload carried by every ConvexError this project throws. */
export type ApiErrorData = {
  code: ErrorCode;
  message: string;
  issues?: ErrorIssue[];
  retryAfterMs?: number;
};

/** Throw from any function: the HTTP wrapper turns it into the SPEC's error envelope. */
export function apiError(
  code: ErrorCode,
  message: string,
  extra: Omit<ApiErrorData, "code" | "message"> = {},
): ConvexError<ApiErrorData> {
  return new ConvexError<ApiErrorData>({ code, message, ...extra });
}

export function isApiErrorData(value: unknown): value is ApiErrorData {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string" &&
    (value as { code: string }).code in ERROR_STATUS &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

/**
 * An error a mutation returns instead of throwing, so what it wrote before deciding still commits
 * (a rate-limit count; the recovery of a job whose lease a late call found expired). The one
 * shape of a returned error: the route handler turns it back into a throw with `unlessRefused`.
 */
export type Refusal = { refused: ApiErrorData };

export function refusal(code: ErrorCode, message: string, extra: Omit<ApiErrorData, "code" | "message"> = {}): Refusal {
  return { refused: { code, message, ...extra } };
}

export async function unlessRefused<T extends object>(pending: Promise<T | Refusal>): Promise<T> {
  const result = await pending;
  if ("refused" in result) throw new ConvexError<ApiErrorData>(result.refused);
  return result;
}
