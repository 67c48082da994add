/**
 * A loopback HTTP server posing as a self-hosted Convex backend, so the real `convex` CLI can run
 * its whole deploy path offline (`CONVEX_SELF_HOSTED_URL=http://127.0.0.1:<port>`): bundling,
 * the push and the code generation that follows it. It answers the push protocol
 * (`/api/deploy2/*`, `/api/get_config_hashes`) with the smallest answers the CLI's own response
 * schemas accept (an empty app without components that takes every push) and `{}` to anything
 * else, and records every request with its decoded body: the exact payload a real push sends.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliDecompressSync, gunzipSync } from "node:zlib";

export type RecordedRequest = { method: string; path: string; body: unknown };

export type BackendStub = {
  url: string;
  requests: RecordedRequest[];
  close: () => Promise<void>;
};

const EMPTY_DIFF = { added: [], removed: [] };

/** The root component of an app without child components, as start_push describes it. */
function startPushAnswer(serverVersion: string) {
  return {
    environmentVariables: {},
    externalDepsId: null,
    componentDefinitionPackages: {},
    appAuth: [],
    analysis: {
      "": {
        definition: {
          path: "",
          definitionType: { type: "app" },
          childComponents: [],
          httpMounts: {},
          exports: { type: "branch", branch: [] },
        },
        schema: null,
        functions: {},
        udfConfig: { serverVersion, importPhaseRngSeed: null, importPhaseUnixTimestamp: null },
      },
    },
    app: {
      definitionPath: "",
      componentPath: "",
      args: {},
      childComponents: {},
      httpRoutes: { httpModuleRoutes: null, mounts: [] },
      exports: {},
    },
    schemaChange: { allocatedComponentIds: {}, schemaIds: {} },
  };
}

function answerFor(path: string, body: unknown): unknown {
  switch (path) {
    case "/api/get_config_hashes":
      return { config: { functions: "convex/" }, moduleHashes: [], nodeDependencies: [], udfServerVersion: null };
    case "/api/deploy2/start_push": {
      const version = (body as { appDefinition?: { udfServerVersion?: string } }).appDefinition?.udfServerVersion;
      return startPushAnswer(version ?? "0.0.0");
    }
    case "/api/deploy2/evaluate_schema":
      return { componentSchemaEvaluations: {}, newComponentDefinitions: [] };
    case "/api/deploy2/evaluate_push":
      return { schemaChange: { allocatedComponentIds: {}, schemaIds: {} } };
    case "/api/deploy2/wait_for_schema":
      return { type: "complete" };
    case "/api/deploy2/finish_push":
      return { authDiff: EMPTY_DIFF, definitionDiffs: {}, componentDiffs: {} };
    default:
      return {};
  }
}

async function bodyOf(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  let bytes = Buffer.concat(chunks);
  const encoding = request.headers["content-encoding"];
  if (encoding === "br") bytes = brotliDecompressSync(bytes);
  else if (encoding === "gzip") bytes = gunzipSync(bytes);
  const text = bytes.toString("utf8");
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startBackendStub(): Promise<BackendStub> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((request, response) => {
    void bodyOf(request).then((body) => {
      const path = new URL(request.url ?? "/", "http://stub").pathname;
      requests.push({ method: request.method ?? "GET", path, body });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(answerFor(path, body)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
