/**
 * Uploads (SPEC §8). Owns `uploads`. The Console stores a file with Convex file storage
 * (`generateUploadUrl`, then POST the bytes) and records it (`record`); workers fetch a download
 * URL through `/v1/uploads/get-download-url`. In local mode both URLs point at the local server
 * (model/localFiles.ts, scripts/local/files.ts), which stores and serves the same bytes.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import { internalMutation, type ActionCtx, type MutationCtx } from "./_generated/server";
import { requireId, requireWorkspaceAccess } from "./access";
import { requestArgs } from "./api/convexArgs";
import { downloadUrlRequest } from "./api/requests/misc";
import { workspaceInternalQuery, workspaceMutation, workspaceQuery } from "./functions";
import { apiError } from "./model/errors";
import { LOCAL_FILE_URL_TTL_MS, localFileUrl, type LocalFileGrant } from "./model/localFiles";
import { requireRun } from "./runs";
import { boundedPage } from "./model/pages";

const DEFAULT_CONTENT_TYPE = "application/octet-stream";

function invalid(path: string, message: string) {
  return apiError("INVALID_REQUEST", `${path}: ${message}`, { issues: [{ path, message }] });
}

/** Workers write files under this name into a checkout: a bare name, never a path. */
function checkFileName(fileName: string) {
  const bare = fileName !== "." && fileName !== ".." && !/[/\\\x00-\x1f]/.test(fileName);
  if (!bare || fileName.trim() === "" || fileName.length > 255) {
    throw invalid("fileName", "must be a file name of 1–255 characters without path separators.");
  }
}

/**
 * Whether another workspace's upload references the stored file. Storage ids are visible to
 * members (`list`), so without this check a member could record another workspace's file into
 * their own and keep downloading it after being removed there. Every upload of one file belongs
 * to one workspace (this check keeps it so), so the first upload found decides.
 */
async function recordedElsewhere(ctx: MutationCtx, workspaceId: Id<"workspaces">, storageId: Id<"_storage">) {
  const recorded = await ctx.db
    .query("uploads")
    .withIndex("by_storage", (q) => q.eq("storageId", storageId))
    .first();
  return recorded !== null && recorded.workspaceId !== workspaceId;
}

/** Records a stored file; its size comes from storage, not from the client. */
async function insertUpload(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  fields: {
    storageId: Id<"_storage">;
    fileName: string;
    contentType?: string;
    runId?: string;
    uploadedBy?: Id<"users">;
  },
): Promise<Id<"uploads">> {
  checkFileName(fields.fileName);
  const stored = await ctx.db.system.get("_storage", fields.storageId);
  // Another workspace's file answers like a missing one: its existence is not this caller's business.
  if (stored === null || (await recordedElsewhere(ctx, workspaceId, fields.storageId))) {
    throw invalid("storageId", "no stored file has this id.");
  }
  const run = fields.runId === undefined ? undefined : await requireRun(ctx, workspaceId, fields.runId);
  return await ctx.db.insert("uploads", {
    workspaceId,
    runId: run?._id,
    storageId: fields.storageId,
    fileName: fields.fileName,
    contentType: fields.contentType || stored.contentType || DEFAULT_CONTENT_TYPE,
    sizeBytes: stored.size,
    uploadedBy: fields.uploadedBy,
  });
}

/** Local mode: a signed URL on the local server; elsewhere null (use Convex storage). */
async function localUrl(grant: LocalFileGrant): Promise<string | null> {
  if (process.env.IAS_LOCAL_MODE !== "true") return null;
  const baseUrl = process.env.IAS_LOCAL_BASE_URL;
  const serviceToken = process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN;
  if (!baseUrl || !serviceToken)
    throw apiError("NOT_CONFIGURED", "Local mode needs IAS_LOCAL_BASE_URL and a service token.");
  return await localFileUrl(baseUrl, serviceToken, grant, Date.now() + LOCAL_FILE_URL_TTL_MS);
}

/** The URL a worker downloads an upload's bytes from. */
export async function downloadUrlOf(ctx: ActionCtx, storageId: Id<"_storage">): Promise<string> {
  const url = (await localUrl({ kind: "download", storageId })) ?? (await ctx.storage.getUrl(storageId));
  if (url === null) throw apiError("UPLOAD_NOT_FOUND", "The upload's file is no longer stored.");
  return url;
}

// ---- HTTP layer ------------------------------------------------------------------------------

/** `POST /v1/uploads/get-download-url` (before the URL is made). */
export const forDownload = workspaceInternalQuery({
  minRole: "member",
  args: requestArgs(downloadUrlRequest),
  handler: async (ctx, { uploadId }) => {
    const { workspaceId } = ctx.access;
    const upload = await ctx.db.get("uploads", requireId(ctx, "uploads", uploadId, "uploadId"));
    if (upload === null || upload.workspaceId !== workspaceId) {
      throw apiError("UPLOAD_NOT_FOUND", "No upload with this id in this workspace.");
    }
    const { storageId, fileName, contentType, sizeBytes } = upload;
    return { storageId, fileName, contentType, sizeBytes };
  },
});

/**
 * Local mode's stand-in for the Console's record step: the local server stores the bytes it
 * was sent with the service token and records them here (scripts/local/files.ts).
 */
export const recordLocal = internalMutation({
  args: {
    workspaceId: v.string(),
    storageId: v.id("_storage"),
    fileName: v.string(),
    contentType: v.optional(v.string()),
    runId: v.optional(v.string()),
  },
  handler: async (ctx, { workspaceId: rawWorkspaceId, ...fields }) => {
    const { workspaceId } = await requireWorkspaceAccess(ctx, { kind: "service" }, rawWorkspaceId, "member");
    return await insertUpload(ctx, workspaceId, fields);
  },
});

// ---- Console ---------------------------------------------------------------------------------

/** Where to POST the file's bytes; the answer is `{storageId}` to pass to `record`. */
export const generateUploadUrl = workspaceMutation({
  args: {},
  returns: v.string(),
  handler: async (ctx) => (await localUrl({ kind: "upload" })) ?? (await ctx.storage.generateUploadUrl()),
});

export const record = workspaceMutation({
  args: {
    storageId: v.id("_storage"),
    fileName: v.string(),
    contentType: v.optional(v.string()),
    runId: v.optional(v.id("runs")),
  },
  returns: v.id("uploads"),
  handler: async (ctx, fields) =>
    await insertUpload(ctx, ctx.workspace.workspaceId, { ...fields, uploadedBy: ctx.userId }),
});

/** Uploads of a workspace (or of one run), newest first. */
export const list = workspaceQuery({
  args: { runId: v.optional(v.id("runs")), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { runId, paginationOpts }) => {
    const { workspaceId } = ctx.workspace;
    const uploads =
      runId === undefined
        ? ctx.db.query("uploads").withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
        : ctx.db
            .query("uploads")
            .withIndex("by_workspace_run", (q) => q.eq("workspaceId", workspaceId).eq("runId", runId));
    return await uploads.order("desc").paginate(boundedPage(paginationOpts));
  },
});
