/**
 * `ias auth login | logout | status`: device login (SPEC §5) and the stored tokens, in the
 * auth.json the IAS runner reads too (auth-file.ts).
 */
import { hostname } from "node:os";
import { text } from "node:stream/consumers";
import { forgetLogin, readAuthStore, saveLogin, type Login } from "../auth-file";
import { sleep } from "../backoff";
import { ApiClient, ApiError } from "../client";
import { optionalString, type Command, type CommandContext } from "../command";
import { iasHome } from "../files";
import { CliError, EXIT } from "../output";
import { chooseLogin, openSession, wantedLogin } from "../session";
import { readWorkerFile } from "../worker-file";

type NewLogin = Omit<Login, "convexDeploymentUrl" | "expiresAt">;

type DeviceStart = {
  deviceId: string;
  deviceSecret: string;
  userCode: string;
  approvalUrl: string;
  expiresAt: number;
  intervalMs: number;
};
type DevicePoll = {
  status: "pending" | "approved" | "denied" | "expired" | "consumed";
  token?: string;
  workspaceId?: string;
  workspaceSlug?: string;
};

const login: Command = {
  path: ["auth", "login"],
  summary: "Log in to a workspace (device flow; --token / --token-stdin store an existing token, for CI)",
  details: [
    "The login is saved in ~/.ias/auth.json, which the IAS runner reads too; entries of other",
    "deployments and workspaces are kept. --url accepts the deployment URL (.convex.cloud), the",
    "site URL (.convex.site) or the local server (http://127.0.0.1:3211).",
  ],
  options: {
    "machine-name": { type: "string", value: "<name>", description: "Shown on the approval page (default: host name)" },
    token: { type: "string", value: "<token>", description: "Store this token instead of the device flow" },
    "token-stdin": { type: "boolean", default: false, description: "Read the token to store from stdin" },
  },
  async run(context) {
    const { url: siteUrl, workspace: workspaceSlug } = wantedLogin(context);
    if (siteUrl === undefined) throw new CliError("--url (or IAS_URL) is required.", EXIT.USAGE, "USAGE_ERROR");
    if (workspaceSlug === undefined)
      throw new CliError("--workspace (or IAS_WORKSPACE) is required.", EXIT.USAGE, "USAGE_ERROR");
    const home = iasHome(context.env);
    readAuthStore(home); // an unusable auth.json is reported before the device flow, not after it
    const given = context.values["token-stdin"] ? (await text(process.stdin)).trim() : optionalString(context, "token");
    const fresh =
      given !== undefined
        ? await storeGivenToken(siteUrl, workspaceSlug, given)
        : await deviceLogin(context, siteUrl, workspaceSlug);
    const saved = saveLogin(home, fresh);
    context.out.result(
      {
        ok: true,
        siteUrl: saved.siteUrl,
        convexDeploymentUrl: saved.convexDeploymentUrl,
        workspaceSlug: saved.workspaceSlug,
        workspaceId: saved.workspaceId,
      },
      () =>
        `Logged in to workspace "${saved.workspaceSlug}" (${saved.workspaceId}) at ${saved.siteUrl}. Token saved in ${home}/auth.json.`,
    );
  },
};

/** Checks the token against the workspace before saving it, so a typo fails now, not in the worker. */
async function storeGivenToken(siteUrl: string, workspaceSlug: string, token: string): Promise<NewLogin> {
  if (token === "") throw new CliError("The token is empty.", EXIT.USAGE, "USAGE_ERROR");
  const client = new ApiClient({ siteUrl, token });
  const { workspaceId } = await client.call<{ workspaceId: string | null }>("/v1/workspaces/resolve", {
    slug: workspaceSlug,
  });
  if (workspaceId === null)
    throw new CliError(
      `Workspace "${workspaceSlug}" does not exist or this token has no access to it.`,
      EXIT.AUTH,
      "FORBIDDEN",
    );
  return { siteUrl, workspaceSlug, workspaceId, token, source: "provided", savedAt: new Date().toISOString() };
}

async function deviceLogin(context: CommandContext, siteUrl: string, workspaceSlug: string): Promise<NewLogin> {
  const { out } = context;
  const client = new ApiClient({ siteUrl });
  const machineName = optionalString(context, "machine-name") ?? hostname();
  const session = await client.call<DeviceStart>("/v1/auth/device/start", { workspaceSlug, machineName });
  out.note(
    `To approve this device, open:\n\n  ${session.approvalUrl}\n\nand check that it shows the code:  ${session.userCode}\n`,
  );
  if (out.json)
    out.event(
      "approval_required",
      { approvalUrl: session.approvalUrl, userCode: session.userCode, expiresAt: session.expiresAt },
      "",
    );
  const interval = Math.max(1_000, session.intervalMs);
  for (;;) {
    const secondsLeft = Math.max(0, Math.round((session.expiresAt - Date.now()) / 1000));
    out.progress(
      `Waiting for approval… (code ${session.userCode}, expires in ${Math.floor(secondsLeft / 60)}:${String(secondsLeft % 60).padStart(2, "0")})`,
    );
    await sleep(interval);
    let poll: DevicePoll;
    try {
      poll = await client.call<DevicePoll>("/v1/auth/device/poll", {
        deviceId: session.deviceId,
        deviceSecret: session.deviceSecret,
      });
    } catch (error) {
      if (error instanceof ApiError && error.code === "RATE_LIMITED") continue;
      throw error;
    }
    if (poll.status === "pending") continue;
    if (poll.status === "approved" && poll.token && poll.workspaceId) {
      return {
        siteUrl,
        workspaceSlug: poll.workspaceSlug ?? workspaceSlug,
        workspaceId: poll.workspaceId,
        token: poll.token,
        source: "device",
        savedAt: new Date().toISOString(),
      };
    }
    if (poll.status === "denied") throw new CliError("The login request was denied.", EXIT.AUTH, "DEVICE_DENIED");
    if (poll.status === "expired")
      throw new CliError(
        "The login request expired before it was approved; run ias auth login again.",
        EXIT.AUTH,
        "DEVICE_EXPIRED",
      );
    throw new CliError(
      "The token of this login request was already handed out; run ias auth login again.",
      EXIT.AUTH,
      "DEVICE_CONSUMED",
    );
  }
}

const logout: Command = {
  path: ["auth", "logout"],
  summary: "Revoke the stored token on the server and forget it (other logins stay)",
  async run(context) {
    const { client, login, home } = await openSession(context);
    if (login.source === "worker.json")
      throw new CliError(
        "This command would use the httpServiceToken of worker.json, which is not a login; remove it there instead.",
        EXIT.USAGE,
        "USAGE_ERROR",
      );
    let revoked = false;
    try {
      await client.call("/v1/auth/token/revoke", {});
      revoked = true;
    } catch (error) {
      // Forget the token anyway: an invalid or expired token is useless, and a service token
      // (stored with --token) cannot be revoked through the API.
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      context.out.warn(`the server did not revoke the token: ${error.message}`);
    }
    forgetLogin(home, login.siteUrl, login.workspaceSlug);
    context.out.result(
      { ok: true, revoked, siteUrl: login.siteUrl, workspaceSlug: login.workspaceSlug },
      () =>
        `Logged out of "${login.workspaceSlug}" at ${login.siteUrl}${revoked ? " (token revoked)" : " (token forgotten locally)"}.`,
    );
  },
};

const status: Command = {
  path: ["auth", "status"],
  summary: "List stored logins, * marking the one commands use by default (tokens are never printed)",
  async run(context) {
    const home = iasHome(context.env);
    const store = readAuthStore(home);
    const wanted = wantedLogin(context);
    let current: Login | undefined;
    try {
      const choice = chooseLogin(store.logins, {}, readWorkerFile(home), home);
      if ("login" in choice) current = choice.login;
    } catch {
      /* no default: several logins and nothing says which */
    }
    const fits = (entry: Login) =>
      (!wanted.url || entry.siteUrl === wanted.url) && (!wanted.workspace || entry.workspaceSlug === wanted.workspace);
    const view = (login: Login, expired: boolean) => {
      const { token: _secret, ...entry } = login;
      return { ...entry, current: !expired && login === current, expired };
    };
    const logins = [
      ...store.logins.filter(fits).map((entry) => view(entry, false)),
      ...store.expired.filter(fits).map((entry) => view(entry, true)),
    ];
    context.out.result({ logins, unreadableEntries: store.unreadable }, () => [
      ...(logins.length === 0
        ? ["Not logged in."]
        : logins.map(
            (entry) =>
              `${entry.current ? "*" : " "} ${entry.workspaceSlug} (${entry.workspaceId}) at ${entry.siteUrl}${loginNote(entry)}`,
          )),
      ...(store.unreadable > 0
        ? [`  (${store.unreadable} entry(ies) of ${store.path} are not logins ias can read; they are kept as they are)`]
        : []),
    ]);
    return logins.some((entry) => !entry.expired) ? EXIT.OK : EXIT.AUTH;
  },
};

function loginNote(entry: { source?: string; savedAt?: string; expired: boolean }): string {
  const notes = [
    entry.expired ? "expired" : undefined,
    entry.source ? `${entry.source}${entry.savedAt ? `, saved ${entry.savedAt}` : ""}` : "written by another tool",
  ].filter(Boolean);
  return ` [${notes.join("; ")}]`;
}

export const authCommands: Command[] = [login, logout, status];
