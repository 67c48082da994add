/** `ias workspace resolve` and `ias cp openapi-url`. */
import type { Command } from "../command";
import { CliError, EXIT } from "../output";
import { openSession } from "../session";
import { apiBaseUrl } from "../url";

type Workspace = { _id: string; slug: string; name: string };

const resolveWorkspace: Command = {
  path: ["workspace", "resolve"],
  summary: "Look a workspace up by slug (default: the logged-in one)",
  args: [{ name: "slug", description: "The workspace's slug (default: the logged-in one)" }],
  async run(context) {
    const { client, login } = await openSession(context);
    const slug = context.positionals[0] ?? login.workspaceSlug;
    const answer = await client.call<{ workspaceId: string | null; workspace: Workspace | null }>(
      "/v1/workspaces/resolve",
      { slug },
    );
    if (answer.workspaceId === null)
      throw new CliError(
        `Workspace "${slug}" does not exist or this login has no access to it.`,
        EXIT.NOT_FOUND,
        "WORKSPACE_NOT_FOUND",
      );
    context.out.result(answer, () => `${answer.workspace!.slug}: ${answer.workspaceId} ("${answer.workspace!.name}")`);
  },
};

const openApiUrl: Command = {
  path: ["cp", "openapi-url"],
  summary: "Print the URL of the control plane's OpenAPI document",
  async run(context) {
    const { login } = await openSession(context);
    const url = `${apiBaseUrl(login.siteUrl)}/openapi.json`;
    context.out.result({ url }, () => url);
  },
};

export const workspaceCommands: Command[] = [resolveWorkspace, openApiUrl];
