// @vitest-environment node
/**
 * Uploads in local mode over real sockets (SPEC §8, §10): bytes stored through the local server
 * come back byte for byte from the URL `get-download-url` returns, also after a restart.
 * The Console cannot reach a local server, so the file is stored and recorded through
 * `POST /local/uploads` (service token), local mode's stand-in for the Console's two steps.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, test } from "vitest";
import { localFileUrl } from "../../convex/model/localFiles";
import { localServerPool, removeTempDirs, type LocalProcess } from "../support/local-process";

const servers = localServerPool();
const start = servers.start;
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
});

async function api(server: LocalProcess, route: string, body: unknown) {
  const response = await fetch(`${server.apiUrl}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.serviceToken}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function download(url: string) {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    bytes: new Uint8Array(await response.arrayBuffer()),
  };
}

describe("local mode uploads", () => {
  test("round trip byte for byte, refused without a valid signature or token, durable across a restart", async () => {
    const server = await start();
    const { body: resolved } = await api(server, "/v1/workspaces/resolve", { slug: "local" });
    const workspaceId = resolved.workspaceId as string;
    // Every byte value, and more than one socket read.
    const original = new Uint8Array(
      Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(300_000)]),
    );

    const uploaded = await fetch(
      `${server.baseUrl}/local/uploads?workspaceId=${workspaceId}&fileName=${encodeURIComponent("spec v1.bin")}`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${server.serviceToken}`, "content-type": "application/x-custom" },
        body: original,
      },
    );
    const recorded = await uploaded.json();
    expect(recorded).toEqual({
      ok: true,
      uploadId: expect.any(String),
      storageId: expect.any(String),
      sizeBytes: original.byteLength,
    });

    const { body: link } = await api(server, "/v1/uploads/get-download-url", {
      workspaceId,
      uploadId: recorded.uploadId,
    });
    expect(link).toMatchObject({
      ok: true,
      fileName: "spec v1.bin",
      contentType: "application/x-custom",
      sizeBytes: original.byteLength,
    });
    expect(link.downloadUrl.startsWith(`${server.baseUrl}/local/files/`)).toBe(true);
    const fetched = await download(link.downloadUrl);
    expect(fetched.status).toBe(200);
    expect(fetched.type).toBe("application/x-custom");
    expect(Buffer.from(fetched.bytes).equals(Buffer.from(original))).toBe(true);

    const tampered = new URL(link.downloadUrl);
    tampered.searchParams.set("expires", String(Number(tampered.searchParams.get("expires")) + 1));
    expect((await download(tampered.href)).status).toBe(403);
    const wrongToken = await fetch(`${server.baseUrl}/local/uploads?workspaceId=${workspaceId}&fileName=x`, {
      method: "POST",
      headers: { authorization: "Bearer ias_wrong" },
      body: "x",
    });
    expect(wrongToken.status).toBe(401);
    const badName = await fetch(`${server.baseUrl}/local/uploads?workspaceId=${workspaceId}&fileName=../x`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.serviceToken}` },
      body: "x",
    });
    expect(badName.status).toBe(400);
    expect(await badName.json()).toMatchObject({ ok: false, error: "INVALID_REQUEST" });

    await server.stop();
    const again = await start({ dataDir: server.dataDir, serviceToken: server.serviceToken });
    const { body: relinked } = await api(again, "/v1/uploads/get-download-url", {
      workspaceId,
      uploadId: recorded.uploadId,
    });
    const refetched = await download(relinked.downloadUrl);
    expect(Buffer.from(refetched.bytes).equals(Buffer.from(original))).toBe(true);
  });

  test("the Console-style upload URL accepts the bytes and answers {storageId}", async () => {
    const server = await start();
    // The URL `uploads.generateUploadUrl` returns in local mode (see test/uploads.test.ts).
    const uploadUrl = await localFileUrl(server.baseUrl, server.serviceToken, { kind: "upload" }, Date.now() + 60_000);
    const original = new Uint8Array(randomBytes(70_000));
    const stored = await fetch(uploadUrl, { method: "POST", headers: { "content-type": "image/png" }, body: original });
    expect(stored.status).toBe(200);
    const { storageId } = await stored.json();
    expect(storageId).toEqual(expect.any(String));

    const downloadUrl = await localFileUrl(
      server.baseUrl,
      server.serviceToken,
      { kind: "download", storageId },
      Date.now() + 60_000,
    );
    const fetched = await download(downloadUrl);
    expect(fetched.type).toBe("image/png");
    expect(Buffer.from(fetched.bytes).equals(Buffer.from(original))).toBe(true);

    const expired = await localFileUrl(server.baseUrl, server.serviceToken, { kind: "upload" }, Date.now() - 1);
    expect((await fetch(expired, { method: "POST", body: "x" })).status).toBe(403);
  });

  test("an uploaded HTML file downloads as an attachment that cannot run on the local origin", async () => {
    const server = await start();
    const uploadUrl = await localFileUrl(server.baseUrl, server.serviceToken, { kind: "upload" }, Date.now() + 60_000);
    const html = "<script>fetch('/local/device/approve', {method: 'POST'})</script>";
    const { storageId } = await (
      await fetch(uploadUrl, { method: "POST", headers: { "content-type": "text/html" }, body: html })
    ).json();
    const response = await fetch(
      await localFileUrl(server.baseUrl, server.serviceToken, { kind: "download", storageId }, Date.now() + 60_000),
    );
    expect(response.headers.get("content-disposition")).toBe("attachment");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-security-policy")).toContain("sandbox");
    expect(await response.text()).toBe(html);

    const garbled = await fetch(`${server.baseUrl}/local/files/%E0%A4%A?signature=x`);
    expect(garbled.status).toBe(403);
    expect(server.output()).not.toContain("signature=");
  });
});
