/**
 * Which stored login a command uses: `--url` / `IAS_URL` and `--workspace` / `IAS_WORKSPACE`
 * pick one from auth.json; with neither, the one `ias auth login` saved last.
 */
import { ApiClient, type ClientOptions } from "./client";
import { iasHome, loginKey, readAuthFile, type AuthFile, type Login } from "./config";
import type { CommandContext } from "./command";
import { CliError, EXIT } from "./output";
import { toSiteUrl } from "./url";

export type Session = { client: ApiClient; login: Login; home: string };

export type LoginWanted = { url?: string; workspace?: string };

export function wantedLogin(context: CommandContext): LoginWanted {
  const url = (context.values.url as string | undefined) || context.env.IAS_URL || undefined;
  const workspace = (context.values.workspace as string | undefined) || context.env.IAS_WORKSPACE || undefined;
  return { url: url === undefined ? undefined : toSiteUrl(url), workspace };
}

export function selectLogin(auth: AuthFile, wanted: LoginWanted): Login {
  const logins = Object.values(auth.logins);
  const notLoggedIn = (what: string) =>
    new CliError(
      `Not logged in${what}. Run: ias auth login --url <deployment URL> --workspace <slug>`,
      EXIT.AUTH,
      "NOT_LOGGED_IN",
    );
  if (wanted.url !== undefined && wanted.workspace !== undefined) {
    const login = auth.logins[loginKey(wanted.url, wanted.workspace)];
    if (!login) throw notLoggedIn(` to workspace "${wanted.workspace}" at ${wanted.url}`);
    return login;
  }
  if (wanted.url === undefined && wanted.workspace === undefined) {
    const current = auth.current === undefined ? undefined : auth.logins[auth.current];
    if (current) return current;
    if (logins.length === 1) return logins[0]!;
    throw notLoggedIn(logins.length === 0 ? "" : "; several logins are stored, choose one with --url and --workspace");
  }
  const matching = logins.filter(
    (login) =>
      (wanted.url === undefined || login.siteUrl === wanted.url) &&
      (wanted.workspace === undefined || login.workspaceSlug === wanted.workspace),
  );
  if (matching.length === 1) return matching[0]!;
  if (matching.length === 0)
    throw notLoggedIn(wanted.url ? ` at ${wanted.url}` : ` to workspace "${wanted.workspace}"`);
  throw new CliError("Several stored logins match; give both --url and --workspace.", EXIT.USAGE);
}

export function openSession(context: CommandContext, clientOptions: Partial<ClientOptions> = {}): Session {
  const home = iasHome(context.env);
  const login = selectLogin(readAuthFile(home), wantedLogin(context));
  const client = new ApiClient({ siteUrl: login.siteUrl, token: login.token, ...clientOptions });
  return { client, login, home };
}
