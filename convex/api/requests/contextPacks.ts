/**
 * The fields of the context pack routes, declared once: routes/contextPacks.ts validates with
 * them, contextPacks.ts derives its functions' `args` from them (api/convexArgs.ts).
 */
import { z } from "zod";
import { FRESH_HINT, MAX_REQUESTED_ITEMS } from "../../model/contextPacks";
import { idOf } from "../schemas";

const expansionHints = z
  .array(z.string().min(1).max(50))
  .max(10)
  .optional()
  .meta({
    description: `\`${FRESH_HINT}\`: fetch items without stored text live from their https URL. Unknown hints are ignored.`,
  });

export const buildPackRequest = z.object({
  workspaceId: idOf("workspaces"),
  runId: idOf("runs"),
  requestedContextItemIds: z.array(idOf("contextItems")).max(MAX_REQUESTED_ITEMS).optional(),
  expansionHints,
  maxItems: z.number().int().min(1).max(200).optional(),
  maxTextBytes: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024)
    .optional(),
});

export const resolvePackRequest = z.object({
  workspaceId: idOf("workspaces"),
  runId: idOf("runs"),
  contextPackId: idOf("contextPacks").optional(),
  expansionHints,
});
