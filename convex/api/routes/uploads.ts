/** Upload routes (SPEC §8). Handlers live in convex/uploads.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { downloadUrlOf } from "../../uploads";
import { downloadUrlRequest } from "../requests/misc";
import { defineRoute, type Route } from "../route";
import { CP } from "../schemas";

export const uploadRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/uploads/get-download-url`,
    auth: "bearer",
    cors: true,
    tag: "uploads",
    summary: "A temporary URL to download a file uploaded in the Console, with its name, type and size.",
    request: downloadUrlRequest,
    response: z.object({
      downloadUrl: z.string(),
      fileName: z.string(),
      contentType: z.string(),
      sizeBytes: z.number().int(),
    }),
    errors: ["WORKSPACE_NOT_FOUND", "UPLOAD_NOT_FOUND", "NOT_CONFIGURED"],
    handler: async (ctx, { caller, body }) => {
      const { storageId, ...upload } = await ctx.runQuery(internal.uploads.forDownload, { caller, ...body });
      return { downloadUrl: await downloadUrlOf(ctx, storageId), ...upload };
    },
  }),
];
