/** Context pack routes (SPEC §8). Handlers live in convex/contextPacks.ts; live fetch in convex/liveFetch.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { resolvePackWithLiveContent } from "../../contextPacks";
import {
  DEFAULT_PACK_MAX_ITEMS,
  DEFAULT_PACK_MAX_TEXT_BYTES,
  FRESH_HINT,
  PACK_ITEM_STATUSES,
  PACK_ORIGINS,
  PACK_REASONS,
} from "../../model/contextPacks";
import { ITEM_READ_BUDGET_BYTES } from "../../model/contextLake";
import { LIVE_FETCH_ERRORS } from "../../model/liveFetch";
import { buildPackRequest, resolvePackRequest } from "../requests/contextPacks";
import { defineRoute, type Route } from "../route";
import { CP, idField } from "../schemas";

const packItemFields = {
  id: z.string().meta({ description: "A contextItems id (for `missing`, the id as requested)" }),
  status: z.enum(PACK_ITEM_STATUSES),
  origin: z.enum(PACK_ORIGINS),
  reason: z.enum(PACK_REASONS),
};

const liveFetchError = z.object({ code: z.enum(LIVE_FETCH_ERRORS), message: z.string() });

export const contextPackRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/context-packs/build-run-v1`,
    auth: "bearer",
    cors: true,
    tag: "context-packs",
    summary:
      "Select and store a context pack for a run: requested, pinned, run items, then goal matches, within a budget.",
    description:
      `Default budget: ${DEFAULT_PACK_MAX_ITEMS} items and ${DEFAULT_PACK_MAX_TEXT_BYTES} bytes of text. Every item considered is listed with its status, origin and reason. ` +
      `Candidates are read until ${ITEM_READ_BUDGET_BYTES} bytes of items have been read: requested ids left unread are \`omitted\` with reason \`read_budget\`, ` +
      "and `readBudgetReached` says lower-priority pinned, run or goal-matching items may not have been considered.",
    request: buildPackRequest,
    response: z.object({
      contextPackId: idField("contextPacks"),
      readBudgetReached: z.boolean(),
      items: z.array(z.object({ ...packItemFields, textBytes: z.number().int() })),
    }),
    errors: ["WORKSPACE_NOT_FOUND", "RUN_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.contextPacks.build, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/context-packs/resolve-run-v1`,
    auth: "bearer",
    cors: true,
    tag: "context-packs",
    summary: "The selected items of a run's pack (the latest when no id is given) with their content.",
    description:
      `With \`${FRESH_HINT}\` (here or at build), items without stored text but with an https URL on a host in ` +
      "IAS_LIVE_FETCH_ALLOWED_HOSTS are fetched live (10 s, 1 MiB each, 8 MiB per call, textual content types only); " +
      "a failed fetch sets that item's `fetchError` only. Items past the read budget are `omitted` with reason `read_budget`.",
    request: resolvePackRequest,
    response: z.object({
      contextPackId: idField("contextPacks"),
      items: z.array(
        z.object({
          ...packItemFields,
          title: z.string().nullable(),
          kind: z.string().nullable(),
          source: z.string().nullable(),
          url: z.string().nullable(),
          content: z.string().nullable(),
          contentSource: z.enum(["stored", "live", "none"]),
          fetchError: liveFetchError.nullable(),
        }),
      ),
    }),
    errors: ["WORKSPACE_NOT_FOUND", "RUN_NOT_FOUND", "CONTEXT_PACK_NOT_FOUND"],
    handler: (ctx, { caller, body }) => resolvePackWithLiveContent(ctx, { caller, ...body }),
  }),
];
