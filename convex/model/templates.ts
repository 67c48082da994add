/**
 * Run-trigger templates: `{{event.title}}` and `{{payload.a.b}}` placeholders filled from an
 * integration event. Only what the workspace data policy let the event store is available, so a
 * placeholder naming dropped content fills with "".
 */
import { truncateText } from "./convexValues";

/** Event fields a template may name as `{{event.<field>}}`. */
export const EVENT_TEMPLATE_FIELDS = [
  "id",
  "source",
  "eventType",
  "idempotencyKey",
  "occurredAt",
  "externalId",
  "title",
  "text",
  "url",
] as const;
export type EventTemplateField = (typeof EVENT_TEMPLATE_FIELDS)[number];

export type TemplateContext = {
  event: Partial<Record<EventTemplateField, string | number>>;
  /** The event's payload as stored (absent unless the policy is `full`). */
  payload?: unknown;
};

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^(event|payload)((?:\.[A-Za-z0-9_-]+)*)$/;

/** Every problem with a template's placeholders, as sentences; empty when it is usable. */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  for (const [, expression] of template.matchAll(PLACEHOLDER)) {
    const match = PATH.exec(expression!);
    if (match === null) {
      problems.push(`{{${expression}}} must name event.<field> or payload.<path>.`);
      continue;
    }
    const path = match[2]!.split(".").filter(Boolean);
    if (
      match[1] === "event" &&
      (path.length !== 1 || !(EVENT_TEMPLATE_FIELDS as readonly string[]).includes(path[0]!))
    ) {
      problems.push(`{{${expression}}}: event fields are ${EVENT_TEMPLATE_FIELDS.join(", ")}.`);
    }
  }
  return problems;
}

/**
 * Replaces each placeholder by its value; missing values become "", objects their JSON. With
 * `maxLength`, the result is cut to that many UTF-16 code units without splitting a surrogate
 * pair (an emoji cut in half would be text Convex refuses to store).
 */
export function fillTemplate(template: string, context: TemplateContext, maxLength = Infinity): string {
  return truncateText(fillPlaceholders(template, context), maxLength);
}

function fillPlaceholders(template: string, context: TemplateContext): string {
  return template.replace(PLACEHOLDER, (_whole, expression: string) => {
    const match = PATH.exec(expression);
    if (match === null) return "";
    const path = match[2]!.split(".").filter(Boolean);
    const root: unknown = match[1] === "event" ? context.event : context.payload;
    return render(path.reduce<unknown>((value, key) => (isRecord(value) ? value[key] : undefined), root));
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function render(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
