/** How the Console writes times, ids and states. Pure: unit-tested. */

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; "in 30 s" for the future. */
export function relativeTime(at: number, now: number): string {
  const seconds = Math.round((now - at) / 1000);
  const future = seconds < 0;
  const size = Math.abs(seconds);
  if (size < 5) return "just now";
  const [value, unit] =
    size < 60
      ? [size, "s"]
      : size < 3600
        ? [Math.floor(size / 60), "min"]
        : size < 86_400
          ? [Math.floor(size / 3600), "h"]
          : [Math.floor(size / 86_400), "d"];
  return future ? `in ${value} ${unit}` : `${value} ${unit} ago`;
}

/** A local date and time to the second, e.g. "2026-05-01 14:03:09". */
export function clockTime(at: number): string {
  const date = new Date(at);
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  );
}

/** The tail of a Convex id: enough to tell jobs apart in a table. */
export function shortId(id: string): string {
  return id.length <= 8 ? id : `…${id.slice(-6)}`;
}

/** What the workers page calls a worker: not seen for a minute is offline, whatever it last said. */
export function workerState(worker: { online: boolean; status: "online" | "offline" | "draining" }) {
  return worker.online ? worker.status : "offline";
}

/** A value shown to a person: text as it is, anything else as indented JSON. */
export function shownValue(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2) ?? String(value);
}

/** The first line of a prompt, cut to `max` characters. */
export function excerpt(text: string, max = 80): string {
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** An error as the person should read it: a Convex API error's message, else the error's own. */
export function errorText(error: unknown): string {
  const data = (error as { data?: unknown } | null)?.data;
  if (typeof data === "object" && data !== null && typeof (data as { message?: unknown }).message === "string") {
    const { code, message } = data as { code?: string; message: string };
    return code ? `${message} (${code})` : message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A workspace slug suggested from its name (lower-case letters, digits, dashes); the person may edit it. */
export function slugFromName(name: string): string {
  return name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "") // accents NFKD split off
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 48)
    .replace(/^-+|-+$/g, "");
}
