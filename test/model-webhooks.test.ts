// @vitest-environment node
/**
 * The pure parts of outbound webhooks (SPEC §9b): which targets are refused, the retry schedule
 * (30 s doubling to an hour, for 24 hours), the signature a receiver checks, and the sealing of
 * endpoint secrets at rest.
 */
import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import {
  decryptSecret,
  encryptSecret,
  mintWebhookSecret,
  nextAttemptAt,
  signatureHeader,
  webhookKeyBytes,
} from "../convex/model/webhooks";
import { blockedAddress, checkWebhookUrl, parseIpv6, webhookTargetPolicyOf } from "../convex/model/webhookTargets";

const EXAMPLE = "../docs/examples/verify-webhook.mjs";
type Verify = (secret: string, header: string, body: string, tolerance?: number, now?: number) => boolean;

describe("addresses", () => {
  test.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "private"],
    ["100.64.0.1", "private"],
    ["0.0.0.0", "private"],
    ["224.0.0.1", "private"],
    ["255.255.255.255", "private"],
    ["198.18.0.1", "private"],
    ["::", "private"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["fe80::1", "private"],
    ["ff02::1", "private"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:169.254.169.254", "private"],
    ["64:ff9b::a00:1", "private"],
    ["2002:c0a8:101::1", "private"],
    ["2001:db8::1", "private"],
    ["2001::1", "private"],
    ["not an address", "private"],
    ["8.8.8.8", null],
    ["172.32.0.1", null],
    ["100.128.0.1", null],
    ["2606:4700:4700::1111", null],
    ["::ffff:8.8.8.8", null],
    ["2002:808:808::1", null],
  ])("%s is %s", (address, kind) => {
    expect(blockedAddress(address)).toBe(kind);
  });

  test("IPv6 text forms parse to the same words", () => {
    expect(parseIpv6("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6("1::8")).toEqual([1, 0, 0, 0, 0, 0, 0, 8]);
    for (const bad of ["1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:2:3:4:5:6:7", "::1.2.3.256"]) {
      expect(parseIpv6(bad), bad).toBeNull();
    }
  });
});

describe("webhook URLs", () => {
  const deployment = webhookTargetPolicyOf({});
  test.each([
    ["https://hooks.example.com/ias", true],
    ["https://hooks.example.com:8443/ias?x=1", true],
    ["https://93.184.216.34/hook", true],
    ["http://hooks.example.com/ias", "NOT_HTTPS"],
    ["ftp://hooks.example.com/", "NOT_HTTPS"],
    ["https://user:pass@hooks.example.com/", "CREDENTIALS_IN_URL"],
    ["not a url", "INVALID_URL"],
    [`https://example.com/${"a".repeat(2_100)}`, "INVALID_URL"],
    ["https://127.0.0.1/hook", "TARGET_NOT_ALLOWED"],
    ["https://2130706433/hook", "TARGET_NOT_ALLOWED"],
    ["https://0x7f.1/hook", "TARGET_NOT_ALLOWED"],
    ["https://[::1]/hook", "TARGET_NOT_ALLOWED"],
    ["https://[::ffff:127.0.0.1]/hook", "TARGET_NOT_ALLOWED"],
    ["https://10.0.0.8/hook", "TARGET_NOT_ALLOWED"],
    ["https://169.254.169.254/latest/meta-data", "TARGET_NOT_ALLOWED"],
    ["https://localhost/hook", "TARGET_NOT_ALLOWED"],
    ["https://api.localhost/hook", "TARGET_NOT_ALLOWED"],
    ["https://printer.local/hook", "TARGET_NOT_ALLOWED"],
    ["https://metadata.google.internal/", "TARGET_NOT_ALLOWED"],
    ["https://intranet/hook", "TARGET_NOT_ALLOWED"],
  ])("%s on a deployment: %s", (url, expected) => {
    const checked = checkWebhookUrl(url, deployment);
    if (expected === true) expect(checked.ok).toBe(true);
    else expect(checked).toMatchObject({ ok: false, error: expected, message: expect.any(String) });
  });

  test("host names are left for the delivery to resolve and check; literal addresses are checked here", () => {
    expect(checkWebhookUrl("https://hooks.example.com/x", deployment)).toMatchObject({
      ok: true,
      name: "hooks.example.com",
    });
    expect(checkWebhookUrl("https://93.184.216.34/x", deployment)).not.toHaveProperty("name");
  });

  test("loopback (http too) only in local mode with IAS_WEBHOOKS_ALLOW_LOOPBACK=true; private networks never", () => {
    const local = webhookTargetPolicyOf({ IAS_LOCAL_MODE: "true", IAS_WEBHOOKS_ALLOW_LOOPBACK: "true" });
    expect(local.allowLoopback).toBe(true);
    for (const url of ["http://127.0.0.1:4000/hook", "https://[::1]:4000/", "http://localhost:4000/"]) {
      expect(checkWebhookUrl(url, local).ok, url).toBe(true);
    }
    for (const url of ["http://10.0.0.1/", "https://192.168.0.2/", "http://hooks.example.com/"]) {
      expect(checkWebhookUrl(url, local).ok, url).toBe(false);
    }
    expect(webhookTargetPolicyOf({ IAS_WEBHOOKS_ALLOW_LOOPBACK: "true" }).allowLoopback).toBe(false);
    expect(webhookTargetPolicyOf({ IAS_LOCAL_MODE: "true", IAS_WEBHOOKS_ALLOW_LOOPBACK: "1" }).allowLoopback).toBe(
      false,
    );
  });
});

describe("retry schedule", () => {
  test("30 s, then doubling up to an hour between attempts, never past 24 hours: 30 attempts in all", () => {
    const created = 1_000_000;
    const times = [created];
    let now = created;
    for (;;) {
      const next = nextAttemptAt(created, times.length, now);
      if (next === null) break;
      times.push(next);
      now = next;
    }
    const gaps = times.slice(1).map((time, i) => time - times[i]!);
    expect(gaps.slice(0, 8)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000]);
    expect(new Set(gaps.slice(7))).toEqual(new Set([3_600_000]));
    expect(times).toHaveLength(30);
    expect(times.at(-1)! - created).toBeLessThanOrEqual(86_400_000);
    expect(times.at(-1)! + 3_600_000 - created).toBeGreaterThan(86_400_000);
  });
});

describe("signatures and secrets", () => {
  test("the header is t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>'> and the docs' Node example accepts it", async () => {
    const { secret } = mintWebhookSecret();
    const body = JSON.stringify({ id: "evt_1", type: "job.finished", data: { text: "héllo" } });
    const header = await signatureHeader(secret, body, 1_800_000_000);
    const expected = createHmac("sha256", secret).update(`1800000000.${body}`).digest("hex");
    expect(header).toBe(`t=1800000000,v1=${expected}`);

    const { verifyIasSignature } = (await import(EXAMPLE)) as { verifyIasSignature: Verify };
    expect(verifyIasSignature(secret, header, body, 300, 1_800_000_100)).toBe(true);
    expect(verifyIasSignature(secret, header, `${body} `, 300, 1_800_000_100)).toBe(false);
    expect(verifyIasSignature(`${secret}x`, header, body, 300, 1_800_000_100)).toBe(false);
    expect(verifyIasSignature(secret, header, body, 300, 1_800_000_301)).toBe(false);
    expect(verifyIasSignature(secret, header.replace("t=1800000000", "t=1800000001"), body, 300, 1_800_000_000)).toBe(
      false,
    );
  });

  test("secrets are sealed with the deployment key, bound to their workspace, and open with nothing else", async () => {
    const key = webhookKeyBytes({ IAS_WEBHOOK_SECRET_KEY: randomBytes(32).toString("base64url") })!;
    const other = webhookKeyBytes({ IAS_WEBHOOK_SECRET_KEY: randomBytes(32).toString("base64url") })!;
    const { secret, prefix } = mintWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(prefix).toBe(secret.slice(0, 10));
    const sealed = await encryptSecret(key, secret, "workspace-a");
    expect(sealed).not.toContain(secret.slice(6));
    expect(sealed).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(await encryptSecret(key, secret, "workspace-a")).not.toBe(sealed); // a fresh IV each time
    expect(await decryptSecret(key, sealed, "workspace-a")).toBe(secret);
    expect(await decryptSecret(key, sealed, "workspace-b")).toBeNull();
    expect(await decryptSecret(other, sealed, "workspace-a")).toBeNull();
    const tampered = sealed.slice(0, -2) + (sealed.endsWith("A") ? "BB" : "AA");
    expect(await decryptSecret(key, tampered, "workspace-a")).toBeNull();
  });

  test("a key that is not 32 bytes of base64url is no key", () => {
    expect(webhookKeyBytes({})).toBeNull();
    expect(webhookKeyBytes({ IAS_WEBHOOK_SECRET_KEY: "short" })).toBeNull();
    expect(webhookKeyBytes({ IAS_WEBHOOK_SECRET_KEY: randomBytes(16).toString("base64url") })).toBeNull();
    expect(webhookKeyBytes({ IAS_WEBHOOK_SECRET_KEY: "!!!not base64!!!" })).toBeNull();
  });
});
