/** `ias auth login | logout | status`: device login (SPEC §5) and the stored tokens. */
import { hostname } from "node:os";
import { text } from "node:stream/consumers";
import { sleep } from "../backoff";
import { ApiClient, ApiError } from "../client";
import { iasHome, loginKey, readAuthFile, writeAuthFile, type Login } from "../config";
import { optionalString, type Command, type CommandContext } from "../command";
import { CliError, EXIT } from "../output";
import { openSession, wantedLogin } from "../session";

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
  summary: "Log in to a workspace (device flow; --token/--token-stdin store an existing token, for CI)",
  usage: "--url <deployment or site URL> --workspace <slug> [--machine-name <name>] [--token <token> | --token-stdin]",
  options: {
    "machine-name": { type: "string" },
    token: { type: "string" },
    "token-stdin": { type: "boolean", default: false },
  },
  async run(context) {
    const { url: siteUrl, workspace: workspaceSlug } = wantedLogin(context);
    if (siteUrl === undefined) throw new CliError("--url (or IAS_URL) is required.", EXIT.USAGE);
    if (workspaceSlug === undefined) throw new CliError("--workspace (or IAS_WORKSPACE) is required.", EXIT.USAGE);
    const given = context.values["token-stdin"] ? (await text(process.stdin)).trim() : optionalString(context, "token");
    const saved =
      given !== undefined
        ? await storeGivenToken(siteUrl, workspaceSlug, given)
        : await deviceLogin(context, siteUrl, workspaceSlug);
    const home = iasHome(context.env);
    const auth = readAuthFile(home);
    const key = loginKey(saved.siteUrl, saved.workspaceSlug);
    writeAuthFile({ current: key, logins: { ...auth.logins, [key]: saved } }, home);
    context.out.result(
      { ok: true, siteUrl: saved.siteUrl, workspaceSlug: saved.workspaceSlug, workspaceId: saved.workspaceId },
      () =>
        `Logged in to workspace "${saved.workspaceSlug}" (${saved.workspaceId}) at ${saved.siteUrl}. Token saved in ${home}/auth.json.`,
    );
  },
};

/** Checks the token against the workspace before saving it, so a typo fails now, not in the worker. */
async function storeGivenToken(siteUrl: string, workspaceSlug: string, token: string): Promise<Login> {
  if (token === "") throw new CliError("The token is empty.", EXIT.USAGE);
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

async function deviceLogin(context: CommandContext, siteUrl: string, workspaceSlug: string): Promise<Login> {
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
  summary: "Revoke the stored token on the server and forget it",
  usage: "[--url <URL>] [--workspace <slug>]",
  async run(context) {
    const { client, login, home } = openSession(context);
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
    const auth = readAuthFile(home);
    const key = loginKey(login.siteUrl, login.workspaceSlug);
    const { [key]: _forgotten, ...logins } = auth.logins;
    writeAuthFile({ current: auth.current === key ? undefined : auth.current, logins }, home);
    context.out.result(
      { ok: true, revoked, siteUrl: login.siteUrl, workspaceSlug: login.workspaceSlug },
      () =>
        `Logged out of "${login.workspaceSlug}" at ${login.siteUrl}${revoked ? " (token revoked)" : " (token forgotten locally)"}.`,
    );
  },
};

const status: Command = {
  path: ["auth", "status"],
  summary: "List stored logins (tokens are never printed)",
  async run(context) {
    const auth = readAuthFile(iasHome(context.env));
    const wanted = wantedLogin(context);
    const logins = Object.entries(auth.logins)
      .filter(
        ([, entry]) =>
          (!wanted.url || entry.siteUrl === wanted.url) &&
          (!wanted.workspace || entry.workspaceSlug === wanted.workspace),
      )
      .map(([key, { token: _secret, ...entry }]) => ({ ...entry, current: key === auth.current }));
    context.out.result({ logins }, () =>
      logins.length === 0
        ? "Not logged in."
        : logins.map(
            (entry) =>
              `${entry.current ? "*" : " "} ${entry.workspaceSlug} (${entry.workspaceId}) at ${entry.siteUrl} [${entry.source}, saved ${entry.savedAt}]`,
          ),
    );
    return logins.length === 0 ? EXIT.AUTH : EXIT.OK;
  },
};

export const authCommands: Command[] = [login, logout, status];
