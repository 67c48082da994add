/** The workspace the pages under `#/w/<slug>` act in, with the signed-in person's role there. */
import { createContext, useContext } from "react";
import type { Id } from "../../../convex/_generated/dataModel";
import type { Role } from "../../../convex/model/roles";

export type CurrentWorkspace = { _id: Id<"workspaces">; slug: string; name: string; role: Role };

export const WorkspaceContext = createContext<CurrentWorkspace | null>(null);

export function useWorkspace(): CurrentWorkspace {
  const workspace = useContext(WorkspaceContext);
  if (workspace === null) throw new Error("useWorkspace outside a workspace page.");
  return workspace;
}

/** Viewers look; members and above change things (SPEC §3). */
export function canChange(role: Role): boolean {
  return role !== "viewer";
}

/** The last workspace opened in this browser, so "/" goes back there. */
const LAST_SLUG_KEY = "ias-console:last-workspace";
export function rememberSlug(slug: string) {
  try {
    localStorage.setItem(LAST_SLUG_KEY, slug);
  } catch {
    // Storage may be off (private windows); remembering is a convenience only.
  }
}
export function rememberedSlug(): string | null {
  try {
    return localStorage.getItem(LAST_SLUG_KEY);
  } catch {
    return null;
  }
}
