/**
 * Integration routes (SPEC §8): outside `/control-plane`, no bearer token; each checks its own
 * secret. Handlers live in convex/integrations.ts and convex/slack.ts.
 *
 * The Slack route keeps the `{ok: true, ...}` envelope: Slack reads the `challenge` property of
 * a JSON answer to `url_verification` and ignores the rest, and only looks at the status of
 * event deliveries (any non-2xx makes it retry).
 */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { MAX_ITEM_TEXT_BYTES, MAX_TITLE_LENGTH } from "../../model/contextLake";
import { apiError } from "../../model/errors";
import { verifySlackRequest } from "../../model/slackSignature";
import { secretsEqual } from "../../model/tokens";
import { defineRoute, type Route } from "../route";
import { idField, idOf } from "../schemas";

export const INTEGRATION_SECRET_HEADER = "x-ias-integration-event-secret";

/** Constant-time check of the ingest secret; 503 while the deployment has none. */
async function requireIntegrationSecret({ request }: { request: Request }) {
  const expected = process.env.IAS_INTEGRATION_EVENT_SECRET;
  if (!expected)
    throw apiError(
      "NOT_CONFIGURED",
      "Event ingest is not configured on this deployment (IAS_INTEGRATION_EVENT_SECRET).",
    );
  const given = request.headers.get(INTEGRATION_SECRET_HEADER);
  if (given === null || !(await secretsEqual(given, expected))) {
    throw apiError(
      "INVALID_INTEGRATION_SECRET",
      `Send the integration secret in the ${INTEGRATION_SECRET_HEADER} header.`,
    );
  }
}

const ingestResponse = z.object({
  eventId: idField("integrationEvents"),
  duplicate: z.boolean().meta({ description: "true when this idempotencyKey was already ingested in the workspace" }),
  triggeredRunTriggerIds: z
    .array(idField("runTriggers"))
    .meta({ description: "Run triggers this call scheduled (none on a duplicate)" }),
  contextItemId: idField("contextItems")
    .nullable()
    .meta({ description: "The Context Lake item upserted, if the data policy allowed one" }),
});

const ingestRequest = z
  .object({
    workspaceId: idOf("workspaces").optional(),
    workspaceSlug: z.string().min(1).max(64).optional(),
    source: z.string().min(1).max(100),
    eventType: z.string().min(1).max(100),
    idempotencyKey: z.string().min(1).max(256),
    occurredAt: z
      .union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })])
      .optional()
      .meta({ description: "Milliseconds since the epoch, or an ISO 8601 date-time" }),
    payload: z.unknown().optional().meta({ description: "Any JSON value; stored only under the `full` data policy" }),
    item: z
      .object({
        externalId: z.string().min(1).max(500),
        title: z.string().min(1).max(MAX_TITLE_LENGTH),
        text: z.string().max(MAX_ITEM_TEXT_BYTES).optional(),
        url: z
          .url({ protocol: /^https?$/ })
          .max(2048)
          .optional(),
        kind: z.string().min(1).max(100).optional(),
      })
      .optional(),
  })
  .refine((body) => (body.workspaceId === undefined) !== (body.workspaceSlug === undefined), {
    message: "send exactly one of workspaceId and workspaceSlug",
    path: ["workspaceId"],
  });

/** The parts of a Slack Events API body we read; the signature is checked before any of it is used. */
const slackBody = z.looseObject({
  type: z.string().max(100),
  challenge: z.string().max(1000).optional(),
  team_id: z.string().max(100).optional(),
  event_id: z.string().max(200).optional(),
  event_time: z.number().optional(),
  event: z
    .looseObject({
      type: z.string().min(1).max(100),
      channel: z.string().max(100).optional(),
      ts: z.string().max(100).optional(),
      text: z.string().optional(),
    })
    .optional(),
});

const SIGNATURE_PROBLEMS = {
  missing: "X-Slack-Signature and X-Slack-Request-Timestamp are required.",
  stale: "X-Slack-Request-Timestamp is more than 5 minutes away from now.",
  mismatch: "X-Slack-Signature does not match the request body.",
} as const;

/** Slack's request signature (v0) over the raw body, within 5 minutes; 503 while unconfigured. */
async function requireSlackSignature({ request, rawBody }: { request: Request; rawBody: string }) {
  const secret = process.env.SLACK_SIGNING_SECRET;
  if (!secret)
    throw apiError("NOT_CONFIGURED", "Slack events are not configured on this deployment (SLACK_SIGNING_SECRET).");
  const verdict = await verifySlackRequest({
    secret,
    timestamp: request.headers.get("x-slack-request-timestamp"),
    signature: request.headers.get("x-slack-signature"),
    rawBody,
    nowMs: Date.now(),
  });
  if (!verdict.ok) throw apiError("INVALID_SIGNATURE", SIGNATURE_PROBLEMS[verdict.reason]);
}

export const integrationRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: "/integrations/events/v1/ingest",
    auth: "none",
    cors: false,
    tag: "integrations",
    summary:
      "Ingest an integration event into the Context Lake, once per idempotencyKey, under the workspace data policy.",
    description: `Authenticated by the \`${INTEGRATION_SECRET_HEADER}\` header (env IAS_INTEGRATION_EVENT_SECRET). Enabled run triggers of type \`event\` matching source and eventType are scheduled at once.`,
    request: ingestRequest,
    response: ingestResponse,
    errors: ["INVALID_INTEGRATION_SECRET", "NOT_CONFIGURED", "WORKSPACE_NOT_FOUND"],
    verify: requireIntegrationSecret,
    handler: async (ctx, { body }) => {
      const { payload, occurredAt, ...fields } = body;
      return await ctx.runMutation(internal.integrations.ingest, {
        ...fields,
        occurredAt: typeof occurredAt === "string" ? Date.parse(occurredAt) : occurredAt,
        payloadJson: payload === undefined ? undefined : JSON.stringify(payload),
      });
    },
  }),
  defineRoute({
    method: "POST",
    path: "/integrations/slack/events/v1",
    auth: "none",
    cors: false,
    tag: "integrations",
    summary: "Slack Events API request URL: url_verification and event_callback (ingested once per event_id).",
    description:
      "Signed by Slack (v0, env SLACK_SIGNING_SECRET, 5-minute window). `url_verification` answers `challenge`; an " +
      "`event_callback` of a team bound to a workspace is ingested with source `slack`; anything else is acknowledged with `ignored`.",
    request: slackBody,
    response: z.object({
      challenge: z.string().optional(),
      eventId: idField("integrationEvents").nullable().optional(),
      duplicate: z.boolean().optional(),
      triggeredRunTriggerIds: z.array(idField("runTriggers")).optional(),
      contextItemId: idField("contextItems").nullable().optional(),
      ignored: z
        .string()
        .optional()
        .meta({ description: "Why nothing was stored: TEAM_NOT_BOUND or the payload type" }),
    }),
    errors: ["INVALID_SIGNATURE", "NOT_CONFIGURED"],
    verify: requireSlackSignature,
    handler: async (ctx, { body }) => {
      if (body.type === "url_verification") {
        if (body.challenge === undefined)
          throw apiError("INVALID_REQUEST", "challenge: required for url_verification.");
        return { challenge: body.challenge };
      }
      if (body.type !== "event_callback") return { ignored: body.type };
      const { team_id: teamId, event_id: eventId, event } = body;
      if (teamId === undefined || eventId === undefined || event === undefined) {
        throw apiError("INVALID_REQUEST", "event_callback needs team_id, event_id and event.");
      }
      return await ctx.runMutation(internal.slack.ingestEventCallback, {
        teamId,
        eventId,
        eventTime: body.event_time,
        event: { type: event.type, channel: event.channel, ts: event.ts, text: event.text },
        payloadJson: JSON.stringify(event),
      });
    },
  }),
];
