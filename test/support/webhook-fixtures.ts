/**
 * Outbound webhook tests in process: a stand-in for the network (`fetch` stubbed) that answers the
 * DNS-over-HTTPS lookups of the delivery action from a table and records every request sent to a
 * receiver, answering each with the next status of a script.
 */
import { vi } from "vitest";
import { DEFAULT_DNS_RESOLVER } from "../../convex/webhookSend";

/** 32 bytes, base64url: the deployment key the tests seal secrets with. */
export const WEBHOOK_KEY = "q3FzUm9xR0tWcXNtV0VqTlJqZWJ2cUJ0Y1FyVm1nTHo";

export type Received = { url: string; headers: Record<string, string>; body: string; at: number };

export type FakeNetwork = {
  /** Requests that reached a receiver (DNS lookups are not listed). */
  received: Received[];
  /** Host names looked up, in order. */
  lookups: string[];
  /** The status each next request gets; the last one repeats. `"hang"` never answers (until aborted). */
  statuses: Array<number | "hang">;
};

/** Stubs `fetch`; `dns` maps host names to the addresses the resolver answers (A and AAAA alike). */
export function fakeNetwork(dns: Record<string, string[]> = {}): FakeNetwork {
  const network: FakeNetwork = { received: [], lookups: [], statuses: [200] };
  vi.stubGlobal("fetch", async (input: string | URL, init: RequestInit = {}) => {
    const url = String(input);
    if (url.startsWith(DEFAULT_DNS_RESOLVER)) {
      const query = new URL(url).searchParams;
      const name = query.get("name")!;
      const v6 = query.get("type") === "AAAA";
      network.lookups.push(name);
      const addresses = (dns[name] ?? []).filter((address) => address.includes(":") === v6);
      const status = dns[name] === undefined ? 3 : 0;
      return Response.json({ Status: status, Answer: addresses.map((data) => ({ type: v6 ? 28 : 1, data })) });
    }
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    network.received.push({ url, headers, body: String(init.body), at: Date.now() });
    const status = network.statuses[Math.min(network.received.length - 1, network.statuses.length - 1)]!;
    if (status === "hang") {
      return await new Promise<Response>((_, reject) =>
        init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))),
      );
    }
    return new Response(status === 204 ? null : "receiver says hi", { status });
  });
  return network;
}
