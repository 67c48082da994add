/** Device login from tests: start, poll and a whole login ending in a device token. */
import { expect } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Member } from "./fixtures";
import { post, type TestConvex } from "./harness";

export const START = "/control-plane/v1/auth/device/start";
export const POLL = "/control-plane/v1/auth/device/poll";
export const CONSOLE_URL = "https://console.example.test";

export type Started = {
  deviceId: string;
  deviceSecret: string;
  userCode: string;
  approvalUrl: string;
  expiresAt: number;
  intervalMs: number;
};

export async function startLogin(t: TestConvex, workspaceSlug: string, machineName?: string): Promise<Started> {
  const response = await post(t, START, { workspaceSlug, ...(machineName === undefined ? {} : { machineName }) });
  expect(response.body, JSON.stringify(response.body)).toMatchObject({ ok: true });
  return response.body as Started;
}

export async function pollLogin(t: TestConvex, started: Pick<Started, "deviceId" | "deviceSecret">) {
  return await post(t, POLL, { deviceId: started.deviceId, deviceSecret: started.deviceSecret });
}

/** start → approve by `approver` in the Console → poll: the device token, as the CLI gets it. */
export async function loginThroughDevice(
  t: TestConvex,
  approver: Member,
  workspaceSlug: string,
  machineName = "laptop",
) {
  const started = await startLogin(t, workspaceSlug, machineName);
  await t.withIdentity(approver.identity).mutation(api.deviceSessions.approve, { deviceId: started.deviceId });
  const polled = await pollLogin(t, started);
  expect(polled.body).toMatchObject({ ok: true, status: "approved" });
  return { started, token: polled.body.token as string, workspaceId: polled.body.workspaceId as string };
}
