/**
 * The fields of the smaller routes (workspaces, uploads), declared once: their route rows validate
 * with them, workspaces.ts and uploads.ts derive their internal functions' `args` from them.
 */
import { z } from "zod";
import { idOf } from "../schemas";

export const resolveWorkspaceRequest = z.object({ slug: z.string().min(1).max(64) });

export const downloadUrlRequest = z.object({ workspaceId: idOf("workspaces"), uploadId: idOf("uploads") });
