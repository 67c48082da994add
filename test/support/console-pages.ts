/**
 * Driving the operator Console (scripts/console/app/) in a browser page the way a person does:
 * sign up through its form, create a workspace through its form, read the signed-in person's
 * session token back for assertions through the official client. For test/e2e/browser-*.
 */
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { PASSWORD } from "./convex-clients";
import type { LocalProcess } from "./local-process";

const heading = (page: Page) => page.locator("h1").first().textContent();

/** Signs a new person up on the Console's own form and waits until the Console is past sign-in. */
export async function signUpInConsole(page: Page, server: LocalProcess, email: string) {
  await page.goto(`${server.baseUrl}/`);
  await page.getByRole("button", { name: "No account yet? Create one" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor({ timeout: 30_000 });
}

/** Signs an existing person in on the Console's form; resolves once the Console is past sign-in. */
export async function signInToConsole(page: Page, server: LocalProcess, email: string) {
  await page.goto(`${server.baseUrl}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor({ timeout: 30_000 });
}

/** Fills the Console's "create workspace" form (already open) and waits for the new queue. */
export async function createWorkspaceInConsole(page: Page, name: string, slug: string) {
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Slug").fill(slug);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await expect.poll(() => heading(page)).toBe("Queue");
  await expect.poll(() => page.getByLabel("Workspace").inputValue()).toBe(slug);
}

let people = 0;

/**
 * A new person (not the first of the server, who joins `local`) signs up and creates a
 * workspace named `name`: lands on "Create your first workspace", then on its queue.
 */
export async function signUpWithWorkspace(page: Page, server: LocalProcess, name: string) {
  const n = ++people;
  const slug = `${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${n}`;
  await signUpInConsole(page, server, `person${n}-${Date.now()}@example.com`);
  await expect.poll(() => heading(page), { timeout: 30_000 }).toBe("Create your first workspace");
  await createWorkspaceInConsole(page, name, slug);
  return { slug };
}

/** The signed-in person's Convex JWT, as @convex-dev/auth/react keeps it in localStorage. */
export async function consoleJwt(page: Page): Promise<string> {
  const token = await page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i)!;
      if (key.startsWith("__convexAuthJWT")) return localStorage.getItem(key);
    }
    return null;
  });
  if (token === null) throw new Error("No @convex-dev/auth JWT in this page's localStorage: not signed in?");
  return token;
}

/** How far the page scrolls sideways (0 or less: it fits the viewport). */
export function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}
