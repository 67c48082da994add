/**
 * Local mode's device approval page (SPEC §5, §10): the `approvalUrl` of a local device login.
 *
 *   GET  /local/device?id=<deviceId>   user code, machine name, workspace, Approve / Deny forms
 *   POST /local/device/approve         form body `id=<deviceId>`: approve as the local owner
 *   POST /local/device/deny            likewise, deny
 *
 * Served by the local server itself rather than convex/http.ts, so no deployment can ever
 * answer these paths. Local mode has one person, so whoever can reach 127.0.0.1 approves; a
 * web page the person visits must not, hence the Origin / Sec-Fetch-Site / Host checks on
 * posts and the no-framing headers (the approve form would otherwise be a one-click CSRF).
 * The page's referrer policy is `same-origin`, so browsers send its real Origin on the form
 * post (`no-referrer` made Chromium send `Origin: null`, and every real click was refused).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { internal } from "../../convex/_generated/api";
import type { Engine } from "./engine";

export const DEVICE_PAGE_PATH = "/local/device";
/** The Console's own approval page (the path deployments' approval URLs use, SPEC §5). */
const CONSOLE_DEVICE_PATH = "/auth/device";
const FORM_LIMIT_BYTES = 4_096;

type Page = { status: number; title: string; body: string };

function isDevicePagePath(pathname: string): boolean {
  return (
    pathname === DEVICE_PAGE_PATH ||
    pathname === `${DEVICE_PAGE_PATH}/approve` ||
    pathname === `${DEVICE_PAGE_PATH}/deny`
  );
}

/** Answers the request when it is one of the paths above; false leaves it to the router. */
export async function answerDevicePage(
  engine: Engine,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<boolean> {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  if (!isDevicePagePath(url.pathname)) return false;
  const page = await pageFor(engine, request, url);
  await engine.durable(); // the approval (or what the page shows) is on disk before it is shown
  response.writeHead(page.status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy":
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    // Not no-referrer: under it Chromium posts the form with `Origin: null`. same-origin still
    // keeps the page's URL (with its device id) from every other site.
    "referrer-policy": "same-origin",
  });
  response.end(render(page));
  return true;
}

async function pageFor(engine: Engine, request: IncomingMessage, url: URL): Promise<Page> {
  const method = request.method ?? "GET";
  if (url.pathname === DEVICE_PAGE_PATH) {
    if (method !== "GET" && method !== "HEAD") return message(405, "Method not allowed", "Open this page with GET.");
    return await approvalPage(engine, url.searchParams.get("id") ?? "");
  }
  if (method !== "POST") return message(405, "Method not allowed", "Approve or deny with the form's POST.");
  const crossSite = crossSiteProblem(request.headers);
  if (crossSite !== null) return message(403, "Refused", crossSite);
  const form = await readForm(request);
  if (form === null) return message(413, "Too large", "The form body is too large.");
  const decision = url.pathname.endsWith("/approve") ? "approve" : "deny";
  const result = await engine.t.mutation(internal.deviceSessions.decideAsLocalOwner, {
    deviceId: form.get("id") ?? "",
    decision,
  });
  if (result.outcome === "not_found" || result.status === "expired") return notFound();
  if (result.outcome === "refused") {
    return message(
      409,
      "Already decided",
      `This device login is ${result.status}; it can no longer be ${decision === "approve" ? "approved" : "denied"}.`,
    );
  }
  return decision === "approve"
    ? message(
        200,
        "Device approved",
        "The device login is approved. You can close this tab; the CLI finishes logging in on its next poll.",
      )
    : message(200, "Device login denied", "The device login was denied. The CLI will stop waiting.");
}

async function approvalPage(engine: Engine, deviceId: string): Promise<Page> {
  const session = deviceId === "" ? null : await engine.t.query(internal.deviceSessions.localView, { deviceId });
  if (session === null || session.status === "expired") return notFound();
  const details = `<dl>
  <dt>Code</dt><dd class="code">${escapeHtml(session.userCode)}</dd>
  <dt>Machine</dt><dd>${escapeHtml(session.machineName ?? "(not given)")}</dd>
  <dt>Workspace</dt><dd>${session.workspace ? `${escapeHtml(session.workspace.name)} (${escapeHtml(session.workspace.slug)})` : "(deleted)"}</dd>
</dl>`;
  if (session.status !== "pending") {
    const state = session.status === "denied" ? "was denied" : "is already approved";
    const by = session.decidedByName === null ? "" : ` by ${escapeHtml(session.decidedByName)}`;
    return { status: 200, title: "Device login", body: `${details}<p>This device login ${state}${by}.</p>` };
  }
  const id = escapeHtml(session.deviceId);
  return {
    status: 200,
    title: "Approve device login",
    body: `<p>A command line asks to act in this workspace as you. Approve only if it shows the same code.</p>
${details}
<form method="post" action="${DEVICE_PAGE_PATH}/approve"><input type="hidden" name="id" value="${id}"><button type="submit">Approve</button></form>
<form method="post" action="${DEVICE_PAGE_PATH}/deny"><input type="hidden" name="id" value="${id}"><button type="submit">Deny</button></form>
<p class="note">Here you decide as the workspace's owner. A member signed in to the Console can <a href="${CONSOLE_DEVICE_PATH}?id=${encodeURIComponent(session.deviceId)}">decide there</a> as themselves.</p>`,
  };
}

function notFound(): Page {
  return message(404, "Not found", "No device login with this id, or it has expired. Run the login command again.");
}

function message(status: number, title: string, text: string): Page {
  return { status, title, body: `<p>${escapeHtml(text)}</p>` };
}

/**
 * Why a post must be refused as coming from another site, or null. Browsers send Origin (and
 * Sec-Fetch-Site) on form posts; scripts such as the CLI send neither. `Origin: null` (sandboxed
 * frames, privacy settings) passes only with `Sec-Fetch-Site: same-origin`, which pages cannot
 * forge. The Host check stops DNS rebinding, where a foreign name resolves to 127.0.0.1.
 */
export function crossSiteProblem(
  headers: Pick<IncomingMessage["headers"], "host" | "origin" | "sec-fetch-site">,
  baseUrl = process.env.IAS_LOCAL_BASE_URL ?? "http://127.0.0.1",
): string | null {
  const own = new URL(baseUrl);
  const sameHost = (host: string) => host === own.host || host === `localhost:${own.port}`;
  if (!sameHost(headers.host ?? "")) return "This page only answers on its own address.";
  const site = headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return "Approvals must come from this page.";
  const origin = headers.origin;
  if (origin === "null" && site !== "same-origin") return "Approvals must come from this page.";
  if (origin !== undefined && origin !== "null" && !sameHost(safeHost(origin)))
    return "Approvals must come from this page.";
  return null;
}

function safeHost(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return "";
  }
}

/** The url-encoded form body, or null when it is over the limit. */
async function readForm(request: IncomingMessage): Promise<URLSearchParams | null> {
  let text = "";
  for await (const chunk of request as AsyncIterable<Buffer>) {
    text += chunk.toString("utf8");
    if (text.length > FORM_LIMIT_BYTES) return null;
  }
  return new URLSearchParams(text);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function render(page: Page): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(page.title)} · IAS local</title>
<style>body{font:16px system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}dt{font-weight:600}dd{margin:0 0 .75rem}.code{font:700 1.6rem ui-monospace,monospace;letter-spacing:.1em}form{display:inline-block;margin-right:.5rem}button{font-size:1rem;padding:.4rem 1.2rem}.note{color:#555;font-size:.9rem;margin-top:1.5rem}</style>
</head><body><h1>${escapeHtml(page.title)}</h1>
${page.body}
</body></html>
`;
}
