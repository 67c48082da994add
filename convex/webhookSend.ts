/**
 * One webhook attempt over the network (SPEC §9b), for the delivery action: the target is checked
 * again (https, no private or loopback address, every address its host name resolves to
 * included), the body is signed with the endpoint's secret and POSTed with a 10 s timeout;
 * redirects are not followed (they could lead anywhere). Runs in Convex's default runtime: host
 * names are resolved with DNS over HTTPS (`IAS_WEBHOOKS_DNS_RESOLVER`), as no DNS API exists there.
 *
 * Limit: the runtime's `fetch` resolves the name again, so a DNS server that answers a public
 * address to the check and a private one a moment later (DNS rebinding) is not stopped here;
 * deployments that need that guarantee also restrict egress at the network.
 */
import { WEBHOOK_TIMEOUT_MS, decryptSecret, signatureHeader, webhookKeyBytes } from "./model/webhooks";
import { blockedAddress, checkWebhookUrl, refusedAddress, webhookTargetPolicyOf } from "./model/webhookTargets";

export const DEFAULT_DNS_RESOLVER = "https://cloudflare-dns.com/dns-query";
const DNS_TIMEOUT_MS = 5_000;

export type AttemptTarget = {
  url: string;
  body: string;
  secretCiphertext: string;
  workspaceId: string;
  deliveryId: string;
  eventId: string;
  type: string;
};

/** What one attempt came to: delivered (no `error`), or an error and whether trying again may help. */
export type AttemptResult = { statusCode?: number; latencyMs?: number; error?: string; retry: boolean };

type Env = Record<string, string | undefined>;

export async function sendWebhook(target: AttemptTarget, env: Env = process.env): Promise<AttemptResult> {
  const policy = webhookTargetPolicyOf(env);
  const checked = checkWebhookUrl(target.url, policy);
  if (!checked.ok) return { error: `${checked.error}: ${checked.message}`, retry: false };
  if (checked.name !== undefined) {
    const addresses = await resolveHost(checked.name, env.IAS_WEBHOOKS_DNS_RESOLVER || DEFAULT_DNS_RESOLVER);
    if (addresses === null || addresses.length === 0) {
      const why = addresses === null ? "could not be resolved" : "has no address";
      return { error: `DNS_FAILED: ${checked.name} ${why}.`, retry: true };
    }
    for (const address of addresses) {
      const kind = blockedAddress(address);
      if (kind !== null && !(kind === "loopback" && policy.allowLoopback)) {
        const refused = refusedAddress(`${checked.name} (${address})`, kind);
        return { error: `${refused.error}: ${refused.message}`, retry: false };
      }
    }
  }
  const keyBytes = webhookKeyBytes(env);
  const secret = keyBytes === null ? null : await decryptSecret(keyBytes, target.secretCiphertext, target.workspaceId);
  if (secret === null) {
    // Retried: the key may be restored; rotating the endpoint's secret also fixes it.
    return {
      error: "SECRET_UNREADABLE: IAS_WEBHOOK_SECRET_KEY is unset or not the key that sealed this secret.",
      retry: true,
    };
  }
  const signature = await signatureHeader(secret, target.body, Math.floor(Date.now() / 1000));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), WEBHOOK_TIMEOUT_MS);
  const started = Date.now();
  try {
    const response = await fetch(checked.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "ias-control-plane-webhooks/1",
        "x-ias-signature": signature,
        "x-ias-event": target.type,
        "x-ias-event-id": target.eventId,
        "x-ias-delivery": target.deliveryId,
      },
      body: target.body,
      redirect: "manual",
      signal: controller.signal,
    });
    const latencyMs = Date.now() - started;
    await response.body?.cancel().catch(() => undefined);
    if (response.status >= 200 && response.status < 300)
      return { statusCode: response.status, latencyMs, retry: false };
    const why = response.status >= 300 && response.status < 400 ? " (redirects are not followed)" : "";
    return {
      statusCode: response.status,
      latencyMs,
      error: `HTTP_STATUS: the endpoint answered ${response.status}${why}.`,
      retry: true,
    };
  } catch {
    const latencyMs = Date.now() - started;
    if (controller.signal.aborted) {
      return { latencyMs, error: `TIMEOUT: no answer within ${WEBHOOK_TIMEOUT_MS} ms.`, retry: true };
    }
    return { latencyMs, error: "NETWORK_ERROR: the endpoint could not be reached.", retry: true };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The A and AAAA addresses of `name` from a DNS-over-HTTPS JSON resolver. null when either lookup
 * fails: a check that saw only some of the addresses would not be a check.
 */
export async function resolveHost(name: string, resolver: string): Promise<string[] | null> {
  const lookups = [
    ["A", 1],
    ["AAAA", 28],
  ] as const;
  const answers = await Promise.all(
    lookups.map(async ([type, code]): Promise<string[] | null> => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), DNS_TIMEOUT_MS);
      try {
        const url = `${resolver}?name=${encodeURIComponent(name)}&type=${type}`;
        const response = await fetch(url, { headers: { accept: "application/dns-json" }, signal: controller.signal });
        if (!response.ok) return null;
        const json = (await response.json()) as { Status?: number; Answer?: Array<{ type?: number; data?: unknown }> };
        // NOERROR, or NXDOMAIN (the name does not exist: no addresses); anything else is a failed lookup.
        if (json.Status !== 0 && json.Status !== 3) return null;
        return (json.Answer ?? [])
          .filter((answer) => answer.type === code && typeof answer.data === "string")
          .map((answer) => answer.data as string);
      } catch {
        return null;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return answers.some((answer) => answer === null) ? null : (answers.flat() as string[]);
}
