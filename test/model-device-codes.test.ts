/** Pure device-login helpers: user codes, session status, approval URLs; and the audit log's token guard. */
import { describe, expect, test } from "vitest";
import {
  approvalUrlFor,
  deviceStatusAt,
  generateUserCode,
  newDeviceId,
  USER_CODE_ALPHABET,
  USER_CODE_PATTERN,
} from "../convex/model/deviceCodes";
import { redactTokens } from "../convex/model/audit";
import { mintToken } from "../convex/model/tokens";

/** A byte source that hands out `bytes` in order. */
function scripted(bytes: number[]) {
  let next = 0;
  return (count: number) => Uint8Array.from({ length: count }, () => bytes[next++]!);
}

describe("user codes", () => {
  test("eight letters of the unambiguous alphabet, grouped 4-4", () => {
    expect(USER_CODE_ALPHABET).toMatch(/^[A-Z]{20}$/);
    expect(USER_CODE_ALPHABET).not.toMatch(/[AEIOUY0O1]/);
    expect(new Set(USER_CODE_ALPHABET).size).toBe(USER_CODE_ALPHABET.length);
    for (let i = 0; i < 200; i++) expect(generateUserCode()).toMatch(USER_CODE_PATTERN);
  });

  test("bytes map onto the alphabet; bytes that would bias it are redrawn", () => {
    expect(generateUserCode(scripted([0, 1, 2, 3, 4, 5, 6, 19]))).toBe("BCDF-GHJZ");
    // 240..255 would favour the first 16 letters: skipped, and only the missing letters are drawn again.
    expect(generateUserCode(scripted([240, 0, 255, 20, 1, 2, 3, 4, 5, 39]))).toBe("BBCD-FGHZ");
  });

  test("letters come out about equally often", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2_000; i++) {
      for (const letter of generateUserCode().replace("-", "")) counts.set(letter, (counts.get(letter) ?? 0) + 1);
    }
    expect(counts.size).toBe(USER_CODE_ALPHABET.length);
    // 16,000 letters over 20: 800 expected each; the bounds are over 8 standard deviations wide.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(580);
      expect(count).toBeLessThan(1_020);
    }
  });

  test("device ids are random, URL-safe and distinct", () => {
    const ids = new Set(Array.from({ length: 100 }, newDeviceId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^dev_[A-Za-z0-9_-]{24}$/);
  });
});

describe("session status", () => {
  test("pending and approved-but-uncollected sessions expire at expiresAt; decided ones keep their status", () => {
    expect(deviceStatusAt("pending", 1_000, 999)).toBe("pending");
    expect(deviceStatusAt("pending", 1_000, 1_000)).toBe("expired");
    expect(deviceStatusAt("approved", 1_000, 1_000)).toBe("expired");
    expect(deviceStatusAt("denied", 1_000, 5_000)).toBe("denied");
    expect(deviceStatusAt("consumed", 1_000, 5_000)).toBe("consumed");
  });
});

describe("approval URL", () => {
  test("the Console's device page, or the local server's own page in local mode", () => {
    expect(approvalUrlFor({ localMode: false, consoleUrl: "https://console.example.com/" }, "dev_a")).toBe(
      "https://console.example.com/auth/device?id=dev_a",
    );
    expect(
      approvalUrlFor({ localMode: true, localBaseUrl: "http://127.0.0.1:3211", consoleUrl: "https://c" }, "dev_a"),
    ).toBe("http://127.0.0.1:3211/local/device?id=dev_a");
    expect(approvalUrlFor({ localMode: true }, "dev_a")).toBe("http://127.0.0.1:3211/local/device?id=dev_a");
    expect(approvalUrlFor({ localMode: false }, "dev_a")).toBeNull();
    expect(approvalUrlFor({ localMode: false, consoleUrl: "https://c" }, "a&b")).toBe("https://c/auth/device?id=a%26b");
  });
});

describe("audit token guard", () => {
  test("redaction keeps the visible prefix and innocent text", () => {
    const { token, prefix } = mintToken();
    expect(redactTokens(`revoked ${token} today`)).toBe(`revoked ${prefix}… today`);
    expect(redactTokens(`machine alias_build_machine`)).toBe("machine alias_build_ma…");
    expect(redactTokens("laptop")).toBe("laptop");
    expect(redactTokens(prefix)).toBe(prefix);
    expect(redactTokens(`Bearer ${token.slice(0, 14)}`)).toBe(`Bearer ${prefix}…`);
  });
});
