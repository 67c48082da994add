/** Workspace slugs: what URLs and CLIs can carry without escaping. */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;
export const SLUG_RULE = "1–48 lowercase letters, digits or hyphens, not starting or ending with a hyphen";

export function isValidSlug(slug: string): boolean {
  return SLUG_PATTERN.test(slug);
}

/** The workspace local mode creates at first start (`npm start`), where the CLI acts by default. */
export const LOCAL_WORKSPACE_SLUG = "local";
