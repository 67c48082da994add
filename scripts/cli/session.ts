/**
 * Which login a command uses. `--url` / `IAS_URL` and `--workspace` / `IAS_WORKSPACE` pick among
 * the usable entries of auth.json; with neither, the one `ias auth login` saved last, else (only
 * runner-written entries) the one worker.json's `controlPlane` names, else the only one. When no
 * entry fits and `controlPlane` carries an `httpServiceToken`, that token is used for it.
 */
import { readAuthStore, type Login } from "./auth-file";
import { ApiClient, type ClientOptions } from "./client";
import type { CommandContext } from "./command";
import { ConfigError, iasHome } from "./files";
import { CliError, EXIT } from "./output";
import { SiteUrlError, toSiteUrl } from "./url";
import { controlPlaneIs, readWorkerFile, workerFilePath, type WorkerFile } from "./worker-file";

export type Session = { client: ApiClient; login: Login; home: string; workerFile: WorkerFile };

export type LoginWanted = { url?: string; workspace?: string };

/** Either a stored login or worker.json's service token (whose workspace id is still to be resolved). */
export type LoginChoice = { login: Login } | { serviceToken: Omit<Login, "workspaceId"> };

export function wantedLogin(context: Pick<CommandContext, "values" | "env">): LoginWanted {
  const url = (context.values.url as string | undefined) || context.env.IAS_URL || undefined;
  const workspace = (context.values.workspace as string | undefined) || context.env.IAS_WORKSPACE || undefined;
  return { url: url === undefined ? undefined : toSiteUrl(url), workspace };
}

export function chooseLogin(logins: Login[], wanted: LoginWanted, file: WorkerFile, home: string): LoginChoice {
  const fits = (login: { siteUrl: string; workspaceSlug: string }) =>
    (wanted.url === undefined || login.siteUrl === wanted.url) &&
    (wanted.workspace === undefined || login.workspaceSlug === wanted.workspace);
  const matching = logins.filter(fits);
  const flagless = wanted.url === undefined && wanted.workspace === undefined;
  const targets = new Set(matching.map((login) => `${login.siteUrl}#${login.workspaceSlug}`));
  if (targets.size === 1 || (flagless && matching.length > 1)) {
    const saved = matching.filter((login) => login.savedAt !== undefined);
    const ofControlPlane = matching.filter((login) => controlPlaneIs(file, login.siteUrl, login.workspaceSlug));
    const chosen =
      saved.length > 0 ? newest(saved) : (ofControlPlane[0] ?? (targets.size === 1 ? matching[0] : undefined));
    if (chosen) return { login: chosen };
  }
  if (targets.size > 1)
    throw new CliError(
      "Several stored logins match; choose one with --url and --workspace (ias auth status lists them).",
      EXIT.USAGE,
    );
  const service = serviceTokenTarget(file, home);
  if (service && fits(service)) return { serviceToken: service };
  const what =
    wanted.url !== undefined && wanted.workspace !== undefined
      ? ` to workspace "${wanted.workspace}" at ${wanted.url}`
      : wanted.url !== undefined
        ? ` at ${wanted.url}`
        : wanted.workspace !== undefined
          ? ` to workspace "${wanted.workspace}"`
          : "";
  throw new CliError(
    `Not logged in${what}. Run: ias auth login --url <deployment URL> --workspace <slug>`,
    EXIT.AUTH,
    "NOT_LOGGED_IN",
  );
}

function newest(logins: Login[]): Login {
  return logins.reduce((best, login) => (login.savedAt! > best.savedAt! ? login : best));
}

function serviceTokenTarget(file: WorkerFile, home: string): Omit<Login, "workspaceId"> | undefined {
  const target = file.controlPlane;
  if (target?.httpServiceToken === undefined) return undefined;
  let siteUrl: string;
  try {
    siteUrl = toSiteUrl(target.convexDeploymentUrl);
  } catch (error) {
    if (!(error instanceof SiteUrlError)) throw error;
    throw new ConfigError(
      `"controlPlane.convexDeploymentUrl" in ${workerFilePath(home)} is not a usable URL: ${error.message} Change it to the deployment URL, e.g. https://happy-otter-123.convex.cloud.`,
    );
  }
  return {
    siteUrl,
    convexDeploymentUrl: target.convexDeploymentUrl,
    workspaceSlug: target.workspaceSlug,
    token: target.httpServiceToken,
    source: "worker.json",
  };
}

/** `workerFile`: when the caller read it already (or, like the doctor, goes on without it). */
export async function openSession(
  context: Pick<CommandContext, "values" | "env">,
  clientOptions: Partial<ClientOptions> = {},
  workerFile: WorkerFile = readWorkerFile(iasHome(context.env)),
): Promise<Session> {
  const home = iasHome(context.env);
  const choice = chooseLogin(readAuthStore(home).logins, wantedLogin(context), workerFile, home);
  if ("login" in choice) {
    const { login } = choice;
    return {
      client: new ApiClient({ siteUrl: login.siteUrl, token: login.token, ...clientOptions }),
      login,
      home,
      workerFile,
    };
  }
  const target = choice.serviceToken;
  const client = new ApiClient({ siteUrl: target.siteUrl, token: target.token, ...clientOptions });
  const { workspaceId } = await client.call<{ workspaceId: string | null }>("/v1/workspaces/resolve", {
    slug: target.workspaceSlug,
  });
  if (workspaceId === null)
    throw new CliError(
      `The httpServiceToken in ${workerFilePath(home)} has no access to workspace "${target.workspaceSlug}"; fix controlPlane there, or run ias auth login.`,
      EXIT.AUTH,
      "FORBIDDEN",
    );
  return { client, login: { ...target, workspaceId }, home, workerFile };
}
