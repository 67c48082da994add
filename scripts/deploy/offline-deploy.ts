/**
 * Runs the real `npx convex deploy` of this project offline: in a temporary copy of the project
 * (so nothing in the working tree changes), against the loopback backend of
 * loopback-backend.ts, with every outside address the CLI knows pointed at it and Sentry off.
 * Used by `npm run codegen` and `npm run check:generated` (the generated code is exactly what a
 * deploy writes, so the two never undo each other) and by the deploy-bundle test.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBackendStub, type RecordedRequest } from "./loopback-backend";

export type OfflineDeploy = {
  /** Every request the CLI made, in order, with its decoded body. */
  requests: RecordedRequest[];
  /** `convex/_generated/` as the deploy left it: file name → text. */
  generated: Map<string, string>;
  /** The CLI's output (stdout and stderr). */
  output: string;
  /** Where the loopback backend listened (closed by the time the deploy returns). */
  backendUrl: string;
};

export type OfflineDeployOptions = {
  /** The project to deploy (holds package.json, convex/ and node_modules/). */
  projectDir: string;
  /** Also write the push payload with `--debug-bundle-path` into this (absent or empty) folder; the push then stops there. */
  debugBundlePath?: string;
  /** `--codegen` (default true). */
  codegen?: boolean;
};

/** Variables that would make the CLI pick another deployment than the loopback one. */
const DEPLOYMENT_VARIABLES = [
  "CONVEX_DEPLOYMENT",
  "CONVEX_DEPLOY_KEY",
  "CONVEX_URL",
  "CONVEX_SITE_URL",
  "CONVEX_SELF_HOSTED_URL",
  "CONVEX_SELF_HOSTED_ADMIN_KEY",
  "CONVEX_PROVISION_HOST",
];

export async function deployOffline(options: OfflineDeployOptions): Promise<OfflineDeploy> {
  const codegen = options.codegen ?? true;
  const work = mkdtempSync(join(tmpdir(), "ias-offline-deploy-"));
  const stub = await startBackendStub();
  try {
    const project = join(work, "project");
    mkdirSync(join(work, "home"), { recursive: true });
    cpSync(join(options.projectDir, "package.json"), join(project, "package.json"));
    // With codegen the deploy writes every generated file itself; without, the bundle needs them.
    cpSync(join(options.projectDir, "convex"), join(project, "convex"), {
      recursive: true,
      filter: (source) => codegen === false || !source.includes(`${join("convex", "_generated")}`),
    });
    symlinkSync(join(options.projectDir, "node_modules"), join(project, "node_modules"), "dir");

    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of DEPLOYMENT_VARIABLES) delete env[name];
    Object.assign(env, {
      CONVEX_SELF_HOSTED_URL: stub.url,
      CONVEX_SELF_HOSTED_ADMIN_KEY: "offline-deploy-admin-key",
      CONVEX_VERSION_API_ORIGIN: stub.url,
      CI: "1", // no Sentry reports, no prompts
      HOME: join(work, "home"), // no global Convex config read or written
      NO_COLOR: "1",
    });
    const args = ["deploy", "--typecheck", "disable", "--codegen", codegen ? "enable" : "disable"];
    if (options.debugBundlePath !== undefined) args.push("--debug-bundle-path", options.debugBundlePath);
    const cli = join(options.projectDir, "node_modules", "convex", "bin", "main.js");
    const output = await run(process.execPath, [cli, ...args], project, env);

    const generatedDir = join(project, "convex", "_generated");
    const generated = new Map<string, string>();
    if (existsSync(generatedDir)) {
      for (const name of readdirSync(generatedDir).sort())
        generated.set(name, readFileSync(join(generatedDir, name), "utf8"));
    }
    return { requests: stub.requests, generated, output, backendUrl: stub.url };
  } finally {
    await stub.close();
    rmSync(work, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve(output);
      else reject(new Error(`convex ${args.join(" ")} exited with ${code ?? signal}:\n${output}`));
    });
  });
}
