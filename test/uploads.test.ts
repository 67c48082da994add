/** Uploads (SPEC §8): Console upload URL and record, `/v1/uploads/get-download-url`, access rules. */
import { describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { localFileUrlGrants } from "../convex/model/localFiles";
import { SERVICE_TOKEN, addMember, createUser, deviceToken, workspaceWithMember } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";
import { caller, expectError, ok } from "./support/api";
import { workspaceWithRun } from "./support/runs-fixtures";

const t = useFreshConvex();

/** What POSTing the bytes to the upload URL does on Convex (convex-test has no upload endpoint). */
async function storeBytes(bytes: Uint8Array, type = "application/pdf") {
  return await t.run((ctx) => ctx.storage.store(new Blob([new Uint8Array(bytes)], { type })));
}

describe("Console upload and get-download-url", () => {
  test("records an upload (size from storage) and hands workers a download URL with name, type and size", async () => {
    const acme = await workspaceWithRun(t);
    const workspaceId = acme.workspaceId as Id<"workspaces">;
    const uploadUrl = await acme.console.mutation(api.uploads.generateUploadUrl, { workspaceId });
    expect(uploadUrl).toMatch(/^https:\/\//);
    const storageId = await storeBytes(new Uint8Array([1, 2, 3, 4, 5]));
    const uploadId = await acme.console.mutation(api.uploads.record, {
      workspaceId,
      storageId,
      fileName: "requirements v2.pdf",
      contentType: "application/pdf",
      runId: acme.runId as Id<"runs">,
    });

    const answer = await ok(acme.call, "/v1/uploads/get-download-url", {
      workspaceId,
      uploadId: `uploads/${uploadId}`,
    });
    expect(answer).toEqual({
      ok: true,
      downloadUrl: expect.stringMatching(/^https:\/\//),
      fileName: "requirements v2.pdf",
      contentType: "application/pdf",
      sizeBytes: 5,
    });
    const listed = await acme.console.query(api.uploads.list, {
      workspaceId,
      runId: acme.runId as Id<"runs">,
      paginationOpts: { numItems: 5, cursor: null },
    });
    expect(listed.page).toEqual([
      expect.objectContaining({ _id: uploadId, sizeBytes: 5, uploadedBy: acme.member.userId }),
    ]);
  });

  test("file names must be bare names; the storage id must exist", async () => {
    const { workspaceId, member } = await workspaceWithMember(t, "acme");
    const console = t.withIdentity(member.identity);
    const storageId = await storeBytes(new Uint8Array([1]));
    for (const fileName of ["../../.bashrc", "dir/file.txt", "a\\b", "..", "", "line\nbreak"]) {
      await expect(console.mutation(api.uploads.record, { workspaceId, storageId, fileName })).rejects.toThrow(
        /fileName/,
      );
    }
    await t.run((ctx) => ctx.storage.delete(storageId));
    await expect(console.mutation(api.uploads.record, { workspaceId, storageId, fileName: "ok.txt" })).rejects.toThrow(
      /storageId/,
    );
  });

  test("another workspace's upload is UPLOAD_NOT_FOUND; viewers may not download", async () => {
    const acme = await workspaceWithMember(t, "acme");
    const other = await workspaceWithMember(t, "other");
    const storageId = await storeBytes(new Uint8Array([9]));
    const uploadId = await t
      .withIdentity(acme.member.identity)
      .mutation(api.uploads.record, { workspaceId: acme.workspaceId, storageId, fileName: "a.txt" });
    expectError(
      await caller(t, other.token)("/v1/uploads/get-download-url", { workspaceId: other.workspaceId, uploadId }),
      404,
      "UPLOAD_NOT_FOUND",
    );
    expectError(
      await caller(t, acme.token)("/v1/uploads/get-download-url", { workspaceId: acme.workspaceId, uploadId: "nope" }),
      400,
      "INVALID_REQUEST",
    );
    const viewer = await createUser(t, "viewer@acme.test");
    await addMember(t, acme.workspaceId, viewer, "viewer");
    const viewerCall = caller(t, (await deviceToken(t, acme.workspaceId, viewer)).token);
    expectError(
      await viewerCall("/v1/uploads/get-download-url", { workspaceId: acme.workspaceId, uploadId }),
      403,
      "FORBIDDEN",
    );
    await expect(
      t.withIdentity(viewer.identity).mutation(api.uploads.generateUploadUrl, { workspaceId: acme.workspaceId }),
    ).rejects.toThrow(/member/);
  });
});

describe("a stored file belongs to one workspace", () => {
  test("a member of two workspaces cannot record one's file into the other, to keep it after removal", async () => {
    const acme = await workspaceWithMember(t, "acme");
    const other = await workspaceWithMember(t, "other");
    await addMember(t, other.workspaceId, acme.member, "member");
    const storageId = await storeBytes(new Uint8Array([4, 2]));
    const asMember = t.withIdentity(acme.member.identity);
    await t
      .withIdentity(acme.owner.identity)
      .mutation(api.uploads.record, { workspaceId: acme.workspaceId, storageId, fileName: "plan.pdf" });
    // The member sees the storage id in Acme's list...
    const listed = await asMember.query(api.uploads.list, {
      workspaceId: acme.workspaceId,
      paginationOpts: { numItems: 5, cursor: null },
    });
    expect(listed.page[0]!.storageId).toBe(storageId);
    // ...but cannot record that file in the other workspace, where it would outlive their Acme membership.
    await expect(
      asMember.mutation(api.uploads.record, { workspaceId: other.workspaceId, storageId, fileName: "copy.pdf" }),
    ).rejects.toThrow(/storageId: no stored file has this id/);
    const otherUploads = await t.run((ctx) =>
      ctx.db
        .query("uploads")
        .withIndex("by_workspace", (q) => q.eq("workspaceId", other.workspaceId))
        .collect(),
    );
    expect(otherUploads).toEqual([]);
    // Recording it again in its own workspace stays possible.
    await asMember.mutation(api.uploads.record, {
      workspaceId: acme.workspaceId,
      storageId,
      fileName: "plan again.pdf",
    });
  });
});

describe("local mode URLs", () => {
  test("point at the local server, signed for exactly that file", async () => {
    vi.stubEnv("IAS_LOCAL_MODE", "true");
    vi.stubEnv("IAS_LOCAL_BASE_URL", "http://127.0.0.1:3211");
    const acme = await workspaceWithMember(t, "acme");
    const console = t.withIdentity(acme.member.identity);
    const uploadUrl = new URL(await console.mutation(api.uploads.generateUploadUrl, { workspaceId: acme.workspaceId }));
    expect(uploadUrl.origin + uploadUrl.pathname).toBe("http://127.0.0.1:3211/local/files/upload");
    expect(await localFileUrlGrants(uploadUrl, SERVICE_TOKEN, { kind: "upload" }, Date.now())).toBe(true);

    const storageId = await storeBytes(new Uint8Array([7, 7]));
    const uploadId = await console.mutation(api.uploads.record, {
      workspaceId: acme.workspaceId,
      storageId,
      fileName: "notes.md",
    });
    const { downloadUrl } = await ok(caller(t, acme.token), "/v1/uploads/get-download-url", {
      workspaceId: acme.workspaceId,
      uploadId,
    });
    const url = new URL(downloadUrl);
    expect(url.origin + url.pathname).toBe(`http://127.0.0.1:3211/local/files/${storageId}`);
    expect(await localFileUrlGrants(url, SERVICE_TOKEN, { kind: "download", storageId }, Date.now())).toBe(true);
    expect(
      await localFileUrlGrants(url, SERVICE_TOKEN, { kind: "download", storageId: "10001_storage" }, Date.now()),
    ).toBe(false);
  });
});
