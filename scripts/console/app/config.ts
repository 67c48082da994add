/**
 * Which Convex deployment the Console talks to. `console/config.js` (written by the build,
 * editable afterwards) sets `window.IAS_CONSOLE_CONFIG`; without a URL there the Console uses
 * the origin it was served from, which is right for local mode (`npm start` serves both).
 */
export type ConsoleConfig = { convexUrl?: string | null };

declare global {
  interface Window {
    IAS_CONSOLE_CONFIG?: ConsoleConfig;
  }
}

/** The deployment URL: the configured one (without trailing slashes), else `origin`. */
export function convexUrlOf(config: ConsoleConfig | undefined, origin: string): string {
  const configured = config?.convexUrl?.trim();
  return (configured ? configured : origin).replace(/\/+$/, "");
}
