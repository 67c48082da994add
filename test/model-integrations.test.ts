/** Pure logic of SPEC §8: templates, data policy, Slack signatures, pack selection, live-fetch URLs, local file URLs. */
import { describe, expect, test } from "vitest";
import { applyDataPolicy } from "../convex/model/dataPolicy";
import { selectPackItems, type PackCandidate } from "../convex/model/contextPacks";
import { ReadBudget } from "../convex/model/contextLake";
import { checkLiveFetchUrl, isTextualContentType, liveFetchPolicyOf, textDecoderFor } from "../convex/model/liveFetch";
import { localFileUrl, localFileUrlGrants } from "../convex/model/localFiles";
import { settleTriggerOutcome, type TriggerOutcome } from "../convex/model/runTriggers";
import { slackSignatureOf, verifySlackRequest } from "../convex/model/slackSignature";
import { fillTemplate, templateProblems } from "../convex/model/templates";

describe("templates", () => {
  const context = {
    event: { id: "ev1", title: "Login fails", source: "github", occurredAt: 1700 },
    payload: { issue: { number: 42, labels: ["bug"], draft: false, body: null } },
  };

  test("fills event fields and payload paths; missing values are empty, objects JSON", () => {
    expect(fillTemplate("{{event.title}} #{{ payload.issue.number }} {{payload.issue.labels}}", context)).toBe(
      'Login fails #42 ["bug"]',
    );
    expect(
      fillTemplate(
        "[{{event.text}}][{{payload.nope.deeper}}][{{payload.issue.body}}][{{payload.issue.draft}}]",
        context,
      ),
    ).toBe("[][][][false]");
    expect(fillTemplate("{{event.occurredAt}}/{{payload.issue.labels.0}}", context)).toBe("1700/bug");
    expect(fillTemplate("no placeholders, {single} braces", context)).toBe("no placeholders, {single} braces");
    expect(fillTemplate("{{payload.issue}}", { event: {} })).toBe("");
  });

  test("templateProblems names unknown roots and event fields", () => {
    expect(templateProblems("Fix {{event.title}} {{payload.any.path}}")).toEqual([]);
    expect(templateProblems("{{event.body}}")).toEqual([expect.stringContaining("event fields are")]);
    expect(templateProblems("{{secrets.token}} {{event}}")).toHaveLength(2);
    expect(templateProblems("{{ event.title.x }}")).toHaveLength(1);
  });
});

test("a filled template cut to a length ends before an emoji rather than inside it", () => {
  const context = { event: { title: "🙂🙂" } };
  expect(fillTemplate("ab{{event.title}}", context, 3)).toBe("ab");
  expect(fillTemplate("ab{{event.title}}", context, 4)).toBe("ab🙂");
  expect(fillTemplate("ab{{event.title}}", context)).toBe("ab🙂🙂");
});

describe("data policy", () => {
  const incoming = {
    occurredAt: 5,
    payloadJson: '{"a":1}',
    item: { externalId: "x1", title: "T", text: "secret body", url: "https://e.test/x1" },
  };

  test("full keeps everything", () => {
    expect(applyDataPolicy("full", incoming)).toEqual({
      event: {
        occurredAt: 5,
        externalId: "x1",
        title: "T",
        url: "https://e.test/x1",
        text: "secret body",
        payloadJson: '{"a":1}',
      },
      item: incoming.item,
    });
  });

  test("metadata_only drops text and payload", () => {
    const stored = applyDataPolicy("metadata_only", incoming);
    expect(stored.event).toEqual({ occurredAt: 5, externalId: "x1", title: "T", url: "https://e.test/x1" });
    expect(stored.item).toEqual({ externalId: "x1", title: "T", url: "https://e.test/x1", text: undefined });
    expect(JSON.stringify(stored)).not.toContain("secret body");
  });

  test("none keeps nothing; no item means no item under any policy", () => {
    expect(applyDataPolicy("none", incoming)).toEqual({ event: {}, item: null });
    expect(applyDataPolicy("full", { occurredAt: 1 }).item).toBeNull();
    expect(applyDataPolicy("metadata_only", { occurredAt: 1 }).item).toBeNull();
  });
});

describe("Slack signature v0", () => {
  // The example from Slack's "Verifying requests from Slack" guide.
  const secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const timestamp = "1531420618";
  const body =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar" +
    "&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com" +
    "%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
  const expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
  const nowMs = Number(timestamp) * 1000;

  test("matches Slack's published example", async () => {
    expect(await slackSignatureOf(secret, timestamp, body)).toBe(expected);
    expect(await verifySlackRequest({ secret, timestamp, signature: expected, rawBody: body, nowMs })).toEqual({
      ok: true,
    });
  });

  test("refuses wrong signatures, altered bodies, stale or missing timestamps", async () => {
    const verify = (overrides: Partial<Parameters<typeof verifySlackRequest>[0]>) =>
      verifySlackRequest({ secret, timestamp, signature: expected, rawBody: body, nowMs, ...overrides });
    expect(await verify({ signature: expected.replace(/.$/, "0") })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verify({ rawBody: `${body}&x=1` })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verify({ secret: "other" })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verify({ nowMs: nowMs + 301_000 })).toEqual({ ok: false, reason: "stale" });
    expect(await verify({ nowMs: nowMs - 301_000 })).toEqual({ ok: false, reason: "stale" });
    expect(await verify({ nowMs: nowMs + 300_000 })).toEqual({ ok: true });
    expect(await verify({ timestamp: null })).toEqual({ ok: false, reason: "missing" });
    expect(await verify({ signature: null })).toEqual({ ok: false, reason: "missing" });
    expect(await verify({ timestamp: "12abc" })).toEqual({ ok: false, reason: "missing" });
  });
});

describe("pack selection", () => {
  const item = (textBytes: number, promotionState: "proposed" | "rejected" = "proposed") => ({
    textBytes,
    promotionState,
  });
  const c = (
    id: string,
    origin: PackCandidate["origin"],
    foundBy: PackCandidate["foundBy"],
    found: PackCandidate["item"],
  ): PackCandidate => ({
    id,
    origin,
    foundBy,
    item: found,
  });

  test("keeps candidate order, judges each item once at its first origin, marks missing", () => {
    const entries = selectPackItems(
      [
        c("r1", "requested", "requested", item(10)),
        c("gone", "requested", "requested", null),
        c("p1", "pinned", "pinned_workspace", item(10)),
        c("r1", "pinned", "pinned_repo", item(10)),
        c("run1", "run", "run_item", item(10)),
        c("s1", "search", "goal_match", item(10)),
        c("p1", "search", "goal_match", item(10)),
      ],
      { maxItems: 50, maxTextBytes: 1000 },
    );
    expect(entries.map((e) => [e.contextItemId, e.status, e.origin, e.reason])).toEqual([
      ["r1", "selected", "requested", "requested"],
      ["gone", "missing", "requested", "not_found"],
      ["p1", "selected", "pinned", "pinned_workspace"],
      ["run1", "selected", "run", "run_item"],
      ["s1", "selected", "search", "goal_match"],
    ]);
  });

  test("item budget omits everything after it; text budget omits what does not fit and lets smaller items in", () => {
    const entries = selectPackItems(
      [
        c("a", "pinned", "pinned_repo", item(600)),
        c("big", "pinned", "pinned_repo", item(500)),
        c("small", "run", "run_item", item(400)),
        c("empty", "search", "goal_match", item(0)),
        c("late", "search", "goal_match", item(0)),
      ],
      { maxItems: 3, maxTextBytes: 1000 },
    );
    expect(entries.map((e) => [e.contextItemId, e.status, e.reason])).toEqual([
      ["a", "selected", "pinned_repo"],
      ["big", "omitted", "text_budget"],
      ["small", "selected", "run_item"],
      ["empty", "selected", "goal_match"],
      ["late", "omitted", "item_budget"],
    ]);
  });

  test("rejected items enter only when requested", () => {
    const entries = selectPackItems(
      [c("x", "requested", "requested", item(1, "rejected")), c("y", "search", "goal_match", item(1, "rejected"))],
      { maxItems: 50, maxTextBytes: 1000 },
    );
    expect(entries.map((e) => [e.contextItemId, e.status, e.reason])).toEqual([
      ["x", "selected", "requested"],
      ["y", "omitted", "rejected"],
    ]);
  });
});

describe("item read budget", () => {
  test("allows reads until the bytes read reach the budget, then remembers it was reached", () => {
    const budget = new ReadBudget(100);
    expect(budget.allowsMore()).toBe(true);
    budget.charge({ text: "x".repeat(60) });
    expect(budget.allowsMore()).toBe(true);
    expect(budget.reached).toBe(false);
    budget.charge({ text: "é".repeat(30) });
    expect(budget.allowsMore()).toBe(false);
    expect(budget.reached).toBe(true);
  });

  test("requested items left unread are omitted with read_budget, whatever their id", () => {
    const entries = selectPackItems(
      [
        { id: "a", origin: "requested", foundBy: "requested", item: { textBytes: 5, promotionState: "proposed" } },
        { id: "b", origin: "requested", foundBy: "requested", item: "unread" },
        { id: "not-an-id", origin: "requested", foundBy: "requested", item: "unread" },
      ],
      { maxItems: 50, maxTextBytes: 1000 },
    );
    expect(entries.map((e) => [e.contextItemId, e.status, e.reason, e.textBytes])).toEqual([
      ["a", "selected", "requested", 5],
      ["b", "omitted", "read_budget", 0],
      ["not-an-id", "omitted", "read_budget", 0],
    ]);
  });
});

describe("live-fetch content types", () => {
  test("text, JSON, XML, YAML and their +json/+xml kinds are text; binary and missing types are not", () => {
    const text = [
      "text/plain",
      "text/markdown; charset=utf-8",
      "TEXT/HTML",
      "application/json",
      "application/vnd.api+json",
    ];
    const moreText = ["application/xml", "application/atom+xml", "application/yaml"];
    const binary = [
      null,
      "",
      "application/octet-stream",
      "image/png",
      "application/pdf",
      "image/svg+xml",
      "application/jsonx",
    ];
    for (const type of [...text, ...moreText]) expect(isTextualContentType(type), type).toBe(true);
    for (const type of binary) expect(isTextualContentType(type), String(type)).toBe(false);
  });

  test("decodes in the declared charset, UTF-8 when none or unknown", () => {
    expect(textDecoderFor("text/plain; charset=ISO-8859-1").decode(new Uint8Array([0x63, 0x61, 0x66, 0xe9]))).toBe(
      "café",
    );
    expect(textDecoderFor("text/plain").encoding).toBe("utf-8");
    expect(textDecoderFor('text/plain; charset="no-such-charset"').encoding).toBe("utf-8");
  });
});

describe("live-fetch URL policy", () => {
  const policy = liveFetchPolicyOf({
    IAS_LIVE_FETCH_ALLOWED_HOSTS: " docs.example.com, WIKI.example.com:8443 ,127.0.0.1:8080",
  });

  test("https on a listed host only", () => {
    expect(checkLiveFetchUrl("https://docs.example.com/a", policy)).toMatchObject({ ok: true });
    expect(checkLiveFetchUrl("https://docs.example.com:443/a", policy)).toMatchObject({ ok: true });
    expect(checkLiveFetchUrl("https://wiki.EXAMPLE.com:8443/a", policy)).toMatchObject({ ok: true });
    expect(checkLiveFetchUrl("https://evil.example.com/a", policy)).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
    });
    // A host listed without a port is only its default https port; with a port, only that port.
    expect(checkLiveFetchUrl("https://docs.example.com:6379/a", policy)).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
    });
    expect(checkLiveFetchUrl("https://wiki.example.com/a", policy)).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
    });
    expect(checkLiveFetchUrl("https://wiki.example.com:8444/a", policy)).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
    });
    expect(checkLiveFetchUrl("https://docs.example.com.evil.test/a", policy)).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
    });
    expect(checkLiveFetchUrl("http://docs.example.com/a", policy)).toMatchObject({ ok: false, error: "NOT_HTTPS" });
    expect(checkLiveFetchUrl("ftp://docs.example.com/a", policy)).toMatchObject({ ok: false, error: "NOT_HTTPS" });
    expect(checkLiveFetchUrl("not a url", policy)).toMatchObject({ ok: false, error: "INVALID_URL" });
    expect(checkLiveFetchUrl("https://docs.example.com/a", liveFetchPolicyOf({}))).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
    });
  });

  test("plain http to a listed localhost only with the test-only switch", () => {
    expect(checkLiveFetchUrl("http://127.0.0.1:8080/x", policy)).toMatchObject({ ok: false, error: "NOT_HTTPS" });
    const insecure = { ...policy, allowInsecureLocalhost: true };
    expect(checkLiveFetchUrl("http://127.0.0.1:8080/x", insecure)).toMatchObject({ ok: true });
    expect(checkLiveFetchUrl("http://127.0.0.1:8081/x", insecure)).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
    });
    expect(checkLiveFetchUrl("http://localhost:8080/x", insecure)).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
    });
    expect(checkLiveFetchUrl("http://docs.example.com/x", insecure)).toMatchObject({ ok: false, error: "NOT_HTTPS" });
    expect(liveFetchPolicyOf({ IAS_LIVE_FETCH_ALLOW_INSECURE_LOCALHOST: "1" }).allowInsecureLocalhost).toBe(false);
  });
});

describe("fired trigger outcomes", () => {
  const a = "a" as TriggerOutcome["runTriggerId"];
  const b = "b" as TriggerOutcome["runTriggerId"];

  test("only the trigger's scheduled outcome is replaced; a settled one is kept", () => {
    const scheduled: TriggerOutcome[] = [
      { runTriggerId: a, status: "scheduled" },
      { runTriggerId: b, status: "scheduled" },
    ];
    const done = settleTriggerOutcome(scheduled, { runTriggerId: a, status: "done" }, 5);
    expect(done).toEqual([{ runTriggerId: a, status: "done", finishedAt: 5 }, scheduled[1]]);
    const late = settleTriggerOutcome(done, { runTriggerId: a, status: "failed", error: "X: late" }, 9);
    expect(late).toBe(done);
    expect(settleTriggerOutcome(done, { runTriggerId: "c" as typeof a, status: "done" }, 9)).toBe(done);
  });
});

describe("local file URLs", () => {
  const token = "ias_local_service_token";
  const grant = { kind: "download" as const, storageId: "10001_storage" };

  test("grant exactly what was signed, until they expire", async () => {
    const url = new URL(await localFileUrl("http://127.0.0.1:3211", token, grant, 10_000));
    expect(url.pathname).toBe("/local/files/10001_storage");
    expect(await localFileUrlGrants(url, token, grant, 9_999)).toBe(true);
    expect(await localFileUrlGrants(url, token, grant, 10_001)).toBe(false);
    expect(await localFileUrlGrants(url, token, { ...grant, storageId: "10002_storage" }, 0)).toBe(false);
    expect(await localFileUrlGrants(url, token, { kind: "upload" }, 0)).toBe(false);
    expect(await localFileUrlGrants(url, "another token", grant, 0)).toBe(false);
    expect(await localFileUrlGrants(url, "", grant, 0)).toBe(false);
    const extended = new URL(url);
    extended.searchParams.set("expires", "99999999");
    expect(await localFileUrlGrants(extended, token, grant, 0)).toBe(false);
  });
});
