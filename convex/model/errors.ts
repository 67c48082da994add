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
  FORBIDDEN: 403,
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
  /** A decision request id (Inbox, `blockedByDecisionRequestId`) missing or of another workspace. */
  DECISION_REQUEST_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  LEASE_MISMATCH: 409,
  CLAIM_GENERATION_MISMATCH: 409,
  INVALID_JOB_STATE: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  /** Answering or dismissing a decision request that is already closed another way. */
  INVALID_DECISION_STATE: 409,
  /** Console: a slug, member or similar unique value already exists. */
  CONFLICT: 409,
  REQUEST_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  /** An integration whose secret is not configured on this deployment. */
  NOT_CONFIGURED: 503,
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
