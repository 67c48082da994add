/**
 * The fields of the worker and repo routes, declared once: routes/workers.ts validates with them,
 * workers.ts and repos.ts derive their internal functions' `args` from them (api/convexArgs.ts).
 */
import { z } from "zod";
import { REPO_STATUSES, WORKER_STATUSES } from "../../model/workers";
import { capabilitiesSchema } from "../jobSchemas";
import { idOf } from "../schemas";

const inventoryText = z.string().max(200).optional();
const remoteUrlHash = z
  .string()
  .min(1)
  .max(200)
  .meta({ description: "SHA-256 (hex) of the normalised git remote URL." });

/** The worker's identity and status; the route adds the capabilities and inventory, reshaped. */
export const workerIdentityFields = {
  workspaceId: idOf("workspaces"),
  displayName: z.string().min(1).max(200),
  machineFingerprint: z.string().min(1).max(200).optional(),
  status: z.enum(WORKER_STATUSES),
};

export const workerHeartbeatRequest = z.object({
  ...workerIdentityFields,
  // Unknown keys Convex cannot store are dropped by splitCapabilities (SPEC §12), never refused.
  capabilities: capabilitiesSchema,
  agentVersion: inventoryText,
  platform: inventoryText,
  arch: inventoryText,
  nodeVersion: inventoryText,
  configuredRepoIds: z.array(z.string().max(200)).max(500).optional(),
  effectivePolicyVersion: inventoryText,
});

export const resolveRepoRequest = z.object({ workspaceId: idOf("workspaces"), remoteUrlHash });

export const repoRequest = z.object({ workspaceId: idOf("workspaces"), repoId: idOf("repos") });

export const upsertRepoRequest = z.object({
  workspaceId: idOf("workspaces"),
  remoteUrlHash,
  label: z.string().min(1).max(200).optional(),
  status: z.enum(REPO_STATUSES),
});

export const listWorkersRequest = z.object({
  workspaceId: idOf("workspaces"),
  limit: z.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(10_000).optional().meta({ description: "`nextCursor` of the previous page." }),
});
