/**
 * Where outbound webhooks may go (SPEC §9b): https only, and never to a private, loopback,
 * link-local or otherwise non-public address, whether the URL names it literally (in any form the
 * URL parser accepts: `https://2130706433/`, `[::ffff:127.0.0.1]`) or a host name resolves to it
 * (the delivery action checks every resolved address with `blockedAddress`). Local mode may allow
 * loopback targets (`IAS_WEBHOOKS_ALLOW_LOOPBACK=true`), plain http included, for receivers on the
 * same machine. Pure: no DNS here.
 */

export type TargetPolicy = { allowLoopback: boolean };

/** Loopback only in local mode, and only when asked for: a deployment never reaches its own network. */
export function webhookTargetPolicyOf(env: Record<string, string | undefined>): TargetPolicy {
  return { allowLoopback: env.IAS_LOCAL_MODE === "true" && env.IAS_WEBHOOKS_ALLOW_LOOPBACK === "true" };
}

export const MAX_WEBHOOK_URL_LENGTH = 2_048;

export type TargetError = "INVALID_URL" | "NOT_HTTPS" | "CREDENTIALS_IN_URL" | "TARGET_NOT_ALLOWED";
export type TargetRefusal = { ok: false; error: TargetError; message: string };
/** A URL that may be posted to; `name` is set when its host still has to be resolved and checked. */
export type CheckedTarget = { ok: true; url: URL; name?: string };

/** Host names that never name a public server: they resolve (if at all) inside a private network. */
const PRIVATE_NAME = /(^|\.)(local|localdomain|internal|intranet|lan|home\.arpa|corp)$/;
const LOOPBACK_NAME = /(^|\.)localhost$/;

export function checkWebhookUrl(raw: string, policy: TargetPolicy): CheckedTarget | TargetRefusal {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) {
    return { ok: false, error: "INVALID_URL", message: `The URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters.` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, error: "INVALID_URL", message: "The URL is not a valid absolute URL." };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { ok: false, error: "NOT_HTTPS", message: "Webhook URLs must use https." };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, error: "CREDENTIALS_IN_URL", message: "The URL must not carry a user name or password." };
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const literal = host.startsWith("[") ? host.slice(1, -1) : parseIpv4(host) === null ? null : host;
  const kind = literal !== null ? blockedAddress(literal) : LOOPBACK_NAME.test(host) ? "loopback" : null;
  const loopbackAllowed = kind === "loopback" && policy.allowLoopback;
  if (kind !== null && !loopbackAllowed) return refusedAddress(host, kind);
  if (url.protocol === "http:" && !loopbackAllowed) {
    return { ok: false, error: "NOT_HTTPS", message: "Webhook URLs must use https." };
  }
  if (literal === null && kind === null && (!host.includes(".") || PRIVATE_NAME.test(host))) {
    return {
      ok: false,
      error: "TARGET_NOT_ALLOWED",
      message: `${host} is a private network name; webhooks go to public hosts only.`,
    };
  }
  return literal === null && kind === null ? { ok: true, url, name: host } : { ok: true, url };
}

export function refusedAddress(host: string, kind: AddressKind): TargetRefusal {
  const what = kind === "loopback" ? "a loopback address" : "a private or reserved address";
  return { ok: false, error: "TARGET_NOT_ALLOWED", message: `${host} is ${what}; webhooks go to public hosts only.` };
}

export type AddressKind = "loopback" | "private";

/**
 * Whether an IP address (IPv4 dotted, or IPv6 text without brackets) is loopback, private or
 * reserved (null: public). Anything that does not parse counts as private: refuse what is unclear.
 */
export function blockedAddress(address: string): AddressKind | null {
  const v4 = parseIpv4(address);
  if (v4 !== null) return blockedIpv4(v4);
  const v6 = parseIpv6(address);
  return v6 === null ? "private" : blockedIpv6(v6);
}

/** [first address, prefix length] of the IPv4 ranges that are not public unicast (RFC 6890 and kin). */
const IPV4_BLOCKED: Array<[number[], number]> = [
  [[0, 0, 0, 0], 8],
  [[10, 0, 0, 0], 8],
  [[100, 64, 0, 0], 10],
  [[169, 254, 0, 0], 16],
  [[172, 16, 0, 0], 12],
  [[192, 0, 0, 0], 24],
  [[192, 0, 2, 0], 24],
  [[192, 88, 99, 0], 24],
  [[192, 168, 0, 0], 16],
  [[198, 18, 0, 0], 15],
  [[198, 51, 100, 0], 24],
  [[203, 0, 113, 0], 24],
  [[224, 0, 0, 0], 4],
  [[240, 0, 0, 0], 4],
];

function blockedIpv4(bytes: number[]): AddressKind | null {
  if (bytes[0] === 127) return "loopback";
  const value = ipv4Number(bytes);
  for (const [start, prefix] of IPV4_BLOCKED) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((value & mask) >>> 0 === (ipv4Number(start) & mask) >>> 0) return "private";
  }
  return null;
}

const ipv4Number = (bytes: number[]) => ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;

function blockedIpv6(words: number[]): AddressKind | null {
  const embeddedV4 = (at: number) => [words[at]! >> 8, words[at]! & 0xff, words[at + 1]! >> 8, words[at + 1]! & 0xff];
  const zeros = (from: number, to: number) => words.slice(from, to).every((word) => word === 0);
  if (zeros(0, 7) && words[7] === 1) return "loopback";
  if (zeros(0, 8)) return "private";
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4
  // (2002:a.b.c.d::/48) addresses reach an IPv4 address: judge that one.
  if (zeros(0, 5) && (words[5] === 0xffff || words[5] === 0)) return blockedIpv4(embeddedV4(6));
  if (words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6)) return blockedIpv4(embeddedV4(6));
  if (words[0] === 0x2002) return blockedIpv4(embeddedV4(1));
  // Teredo, benchmarking and other IETF blocks (2001:0000::/23) and documentation (2001:db8::/32).
  if (words[0] === 0x2001 && (words[1]! < 0x0200 || words[1] === 0x0db8)) return "private";
  // Only global unicast (2000::/3) is public: this also refuses unique local fc00::/7, link-local
  // fe80::/10, multicast ff00::/8 and the reserved low blocks.
  return words[0]! >= 0x2000 && words[0]! < 0x4000 ? null : "private";
}

/** Four bytes of a dotted-decimal IPv4 address, or null. */
export function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return null;
  const bytes = parts.map(Number);
  return bytes.every((byte) => byte <= 255) ? bytes : null;
}

/** Eight 16-bit words of an IPv6 address (`::` and a trailing dotted IPv4 allowed, no zone), or null. */
export function parseIpv6(text: string): number[] | null {
  let rest = text.toLowerCase();
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(rest);
  if (dotted) {
    const v4 = parseIpv4(dotted[2]!);
    if (v4 === null) return null;
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    rest = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = rest.split("::");
  if (halves.length > 2) return null;
  const words = (part: string) => (part === "" ? [] : part.split(":"));
  const head = words(halves[0]!);
  const back = halves.length === 2 ? words(halves[1]!) : [];
  if (![...head, ...back].every((word) => /^[0-9a-f]{1,4}$/.test(word))) return null;
  const given = head.length + back.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  const fill = Array<number>(8 - given).fill(0);
  return [...head.map((w) => parseInt(w, 16)), ...fill, ...back.map((w) => parseInt(w, 16)), ...tail];
}
