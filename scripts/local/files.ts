/**
 * Local mode's file URLs (SPEC §8, §10): convex-test's storage has no URLs, so the local server
 * serves them, reading and writing blobs through the engine (and so its durable store).
 *
 *   POST /local/files/upload?expires&signature   the Console's upload URL: stores the body, `{storageId}`
 *   GET  /local/files/<storageId>?expires&signature   a download URL from get-download-url
 *   POST /local/uploads?workspaceId&fileName[&runId]   Bearer <service token>: store and record in
 *        one step, local mode's stand-in for the Console (which cannot reach a local server)
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ConvexError } from "convex/values";
import type { Id } from "../../convex/_generated/dataModel";
import { ERROR_STATUS, isApiErrorData, type ErrorCode } from "../../convex/model/errors";
import { LOCAL_FILES_PATH, LOCAL_UPLOAD_PATH, localFileUrlGrants } from "../../convex/model/localFiles";
import { secretsEqual } from "../../convex/model/tokens";
import type { Engine } from "./engine";

export const LOCAL_RECORD_UPLOAD_PATH = "/local/uploads";
/** Largest file the local server accepts in one upload. */
export const LOCAL_UPLOAD_MAX_BYTES = 100 * 1024 * 1024;
const STORAGE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Answers the request when it is one of the paths above; false leaves it to the router. */
export async function answerLocalFiles(
  engine: Engine,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<boolean> {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  const method = request.method ?? "GET";
  if (url.pathname === LOCAL_UPLOAD_PATH && method === "POST") {
    if (!(await localFileUrlGrants(url, serviceToken(), { kind: "upload" }, Date.now()))) {
      return await fail(engine, response, "FORBIDDEN", "This upload URL is invalid or has expired.");
    }
    const stored = await storeBody(engine, request);
    if (stored === "too_large")
      return await fail(
        engine,
        response,
        "REQUEST_TOO_LARGE",
        `Uploads are limited to ${LOCAL_UPLOAD_MAX_BYTES} bytes.`,
      );
    return await send(engine, response, 200, { storageId: stored.storageId });
  }
  if (url.pathname === LOCAL_RECORD_UPLOAD_PATH && method === "POST")
    return await storeAndRecord(engine, request, response, url);
  if (url.pathname.startsWith(`${LOCAL_FILES_PATH}/`) && (method === "GET" || method === "HEAD")) {
    const storageId = decodedOrNull(url.pathname.slice(LOCAL_FILES_PATH.length + 1));
    const granted =
      storageId !== null &&
      STORAGE_ID.test(storageId) &&
      (await localFileUrlGrants(url, serviceToken(), { kind: "download", storageId }, Date.now()));
    if (!granted) return await fail(engine, response, "FORBIDDEN", "This download URL is invalid or has expired.");
    // t.run answers Convex values: the bytes travel as an ArrayBuffer, not a Blob.
    const file = await engine.t.run(async (ctx) => {
      const blob = await ctx.storage.get(storageId as Id<"_storage">);
      return blob === null ? null : { bytes: await blob.arrayBuffer(), type: blob.type };
    });
    if (file === null) return await fail(engine, response, "UPLOAD_NOT_FOUND", "The file is no longer stored.");
    await engine.durable(); // the storage row read above may come from a commit not yet on disk
    // The file shares an origin with the local approval page: it must never run as a page there.
    response.writeHead(200, {
      "content-type": file.type || "application/octet-stream",
      "content-length": String(file.bytes.byteLength),
      "content-disposition": "attachment",
      "x-content-type-options": "nosniff",
      "content-security-policy": "sandbox; default-src 'none'",
    });
    response.end(method === "HEAD" ? undefined : Buffer.from(file.bytes));
    return true;
  }
  return false;
}

function decodedOrNull(component: string): string | null {
  try {
    return decodeURIComponent(component);
  } catch {
    return null;
  }
}

async function storeAndRecord(engine: Engine, request: IncomingMessage, response: ServerResponse, url: URL) {
  const bearer = /^Bearer[ \t]+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
  if (bearer === undefined || !(await secretsEqual(bearer, serviceToken()))) {
    return await fail(
      engine,
      response,
      "INVALID_TOKEN",
      "Send the local service token as `Authorization: Bearer <token>`.",
    );
  }
  const stored = await storeBody(engine, request);
  if (stored === "too_large")
    return await fail(engine, response, "REQUEST_TOO_LARGE", `Uploads are limited to ${LOCAL_UPLOAD_MAX_BYTES} bytes.`);
  try {
    const uploadId = await engine.call("uploads:recordLocal", {
      workspaceId: url.searchParams.get("workspaceId") ?? "",
      storageId: stored.storageId,
      fileName: url.searchParams.get("fileName") ?? "",
      ...(stored.contentType ? { contentType: stored.contentType } : {}),
      ...(url.searchParams.has("runId") ? { runId: url.searchParams.get("runId")! } : {}),
    });
    return await send(engine, response, 200, {
      ok: true,
      uploadId,
      storageId: stored.storageId,
      sizeBytes: stored.sizeBytes,
    });
  } catch (error) {
    // Nothing refers to the blob: do not keep it.
    await engine.t.run((ctx) => ctx.storage.delete(stored.storageId as Id<"_storage">));
    if (error instanceof ConvexError && isApiErrorData(error.data))
      return await fail(engine, response, error.data.code, error.data.message);
    throw error;
  }
}

/** Reads the whole body (bounded) into storage; the blob is on disk when this resolves. */
async function storeBody(engine: Engine, request: IncomingMessage) {
  const bytes = await readBodyWithin(request, LOCAL_UPLOAD_MAX_BYTES);
  if (bytes === "too_large") return bytes;
  const contentType = request.headers["content-type"] ?? "";
  const storageId: string = await engine.t.run((ctx) =>
    ctx.storage.store(new Blob([new Uint8Array(bytes)], { type: contentType })),
  );
  await engine.durable();
  return { storageId, contentType, sizeBytes: bytes.byteLength };
}

/** Collects the body up to `limit` bytes; past it, drains the rest so the 413 can still be written. */
function readBodyWithin(request: IncomingMessage, limit: number): Promise<Buffer | "too_large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    request.on("data", (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total <= limit) chunks.push(chunk);
    });
    request.on("end", () => resolve(total > limit ? "too_large" : Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function serviceToken(): string {
  return process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN ?? "";
}

/** Every answer waits for the commits and blobs it may rest on to be on disk (engine.durable). */
async function send(engine: Engine, response: ServerResponse, status: number, body: unknown): Promise<true> {
  await engine.durable();
  response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  response.end(JSON.stringify(body));
  return true;
}

function fail(engine: Engine, response: ServerResponse, code: ErrorCode, message: string): Promise<true> {
  return send(engine, response, ERROR_STATUS[code], { ok: false, error: code, message });
}
