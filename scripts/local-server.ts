/**
 * `npm start`: the control plane in local mode (SPEC §10). Parses the command line, loads the
 * environment, starts the server from ./local/ and prints where to reach it.
 *
 *   npm start -- [--port N] [--data-dir DIR] [--quiet]
 */
import { relative, resolve } from "node:path";
import { LocalDataError } from "./local/data-dir";
import { AuthEnvironmentError, ensureAuthKeys, ensureSiteUrl } from "./local/authEnv";
import { loadEnvironment, SERVICE_TOKEN_VAR, type LoadedEnvironment } from "./local/env";
import { ListenError, startLocalServer, type LocalServer } from "./local/server";
import { ensureWebhookKey } from "./local/webhookEnv";

export const DEFAULT_PORT = 3211;
const USAGE = `Usage: npm start -- [--port N] [--data-dir DIR] [--quiet]

  --port N        port on 127.0.0.1 (default ${DEFAULT_PORT}, or $PORT; 0 picks a free one)
  --data-dir DIR  state directory (default .ias-local/ in the current directory)
  --quiet         no request log (one line per request: time, method, path, status, ms, request id)

Environment comes from the shell and from .env.local (the shell wins).`;

type CliArguments = { portText?: string; dataDir: string; quiet: boolean };

function parseArguments(argv: string[]): CliArguments {
  let portText: string | undefined;
  let dataDir: string | undefined;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inlineValue] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const given = inlineValue ?? argv[++i];
      if (given === undefined || given === "") fail(`${flag} needs a value.`);
      return given;
    };
    if (flag === "--port") portText = value();
    else if (flag === "--data-dir") dataDir = value();
    else if (flag === "--quiet" && inlineValue === undefined) quiet = true;
    else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else fail(`Unknown argument ${argv[i]}.`);
  }
  return { portText, dataDir: resolve(dataDir ?? ".ias-local"), quiet };
}

/** The flag wins over PORT (from the shell or .env.local). */
function portOf(portText: string | undefined, env: NodeJS.ProcessEnv): number {
  const text = portText ?? (env.PORT || String(DEFAULT_PORT));
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) fail(`Port must be an integer from 0 to 65535, got "${text}".`);
  return port;
}

/** IAS_LOCAL_COMPACT_ABOVE_BYTES: the journal size below which it is never compacted. */
function compactThresholdOf(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.IAS_LOCAL_COMPACT_ABOVE_BYTES;
  if (text === undefined || text === "") return undefined;
  if (!/^\d+$/.test(text)) fail(`IAS_LOCAL_COMPACT_ABOVE_BYTES must be a number of bytes, got "${text}".`);
  return Number(text);
}

function fail(message: string): never {
  console.error(`Error: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function printBanner(server: LocalServer, environment: LoadedEnvironment, dataDir: string) {
  const envFile = relative(process.cwd(), environment.envFile) || environment.envFile;
  const lines = [
    "",
    "IAS control plane (local mode)",
    `  Base URL:    ${server.url}/control-plane`,
    `  OpenAPI:     ${server.url}/control-plane/openapi.json`,
    `  Console:     ${server.url}/`,
    `  Convex URL:  ${server.url}  (ConvexReactClient / ConvexHttpClient; docs/console-dev.md)`,
    `  Workspace:   ${server.workspace.slug} (id ${server.workspace.workspaceId})`,
  ];
  const showToken = server.workspace.created || environment.serviceTokenSource === "generated";
  if (environment.serviceTokenSource === "shell") {
    lines.push(`  Service token: from ${SERVICE_TOKEN_VAR} in your shell`);
  } else if (showToken) {
    // The one intentional print of a secret: first start, so the person can copy it.
    lines.push(
      `  Service token: ${process.env[SERVICE_TOKEN_VAR]}`,
      `                 (also saved in ${envFile} as ${SERVICE_TOKEN_VAR})`,
    );
  } else {
    lines.push(`  Service token: in ${envFile} (${SERVICE_TOKEN_VAR})`);
  }
  lines.push(`  Data:        ${relative(process.cwd(), dataDir) || dataDir}`, "");
  console.log(lines.join("\n"));
}

async function main() {
  const cli = parseArguments(process.argv.slice(2));
  // The environment is complete before any Convex function can run.
  let environment: LoadedEnvironment;
  let authWritten: string[];
  try {
    environment = loadEnvironment(process.cwd());
    authWritten = await ensureAuthKeys(environment.envFile);
    ensureWebhookKey(environment.envFile);
  } catch (error) {
    if (error instanceof AuthEnvironmentError) console.error(`Error: ${error.message}`);
    else {
      console.error(
        `Error: cannot read or write .env.local in ${process.cwd()}: ${error instanceof Error ? error.message : error}`,
      );
    }
    process.exit(1);
  }
  const siteUrlWasSet = Boolean(process.env.CONVEX_SITE_URL);
  const options = {
    port: portOf(cli.portText, process.env),
    dataDir: cli.dataDir,
    compactAboveBytes: compactThresholdOf(process.env),
    requestLog: !cli.quiet,
  };
  let server: LocalServer;
  try {
    server = await startLocalServer(options);
  } catch (error) {
    if (error instanceof LocalDataError || error instanceof ListenError) {
      console.error(`Error: ${error.message}`);
    } else {
      console.error("Error: the local server could not start:", error);
    }
    process.exit(1);
  }
  authWritten.push(...ensureSiteUrl(environment.envFile, siteUrlWasSet, server.url));
  printBanner(server, environment, options.dataDir);
  if (authWritten.length > 0) console.log(`Console sign-in: wrote ${authWritten.join(", ")} to .env.local.`);
  console.log(`IAS local control plane listening on ${server.url}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130); // a second Ctrl-C: do not wait any longer
    stopping = true;
    console.log(`${signal}: shutting down (every acknowledged write is already on disk).`);
    server.close().then(
      () => process.exit(0),
      (error) => {
        console.error("Error during shutdown:", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

await main();
