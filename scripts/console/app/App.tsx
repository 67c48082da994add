/**
 * The Console's frame: sign-in gate, header (workspace switcher, navigation, sign out) and the
 * page for the current route. Pages under `#/w/<slug>` get that workspace from context.
 */
import { useAuthActions } from "@convex-dev/auth/react";
import { useConvexAuth } from "convex/react";
import { useEffect, useRef, type ReactNode } from "react";
import { ErrorBoundary, Loading } from "./components";
import { linkTo, useRoute } from "./navigation";
import { hrefOf, slugOf, type Route } from "./routes";
import { rememberSlug, WorkspaceContext } from "./workspace";
import { DeviceApproval } from "./pages/DeviceApproval";
import { InboxPage } from "./pages/Inbox";
import { JobPage } from "./pages/Job";
import { QueuePage } from "./pages/Queue";
import { RunTriggersPage } from "./pages/RunTriggers";
import { SignIn } from "./pages/SignIn";
import { WorkersPage } from "./pages/Workers";
import { CreateWorkspace, Home, useMyWorkspaces, WorkspaceSwitcher } from "./pages/Workspaces";

function SkipLink() {
  // A plain #main link would change the hash, which is the route.
  return (
    <a
      className="skip"
      href="#main"
      onClick={(event) => {
        event.preventDefault();
        document.getElementById("main")?.focus();
      }}
    >
      Skip to content
    </a>
  );
}

function Header({ route }: { route: Route }) {
  const { signOut } = useAuthActions();
  const slug = slugOf(route);
  const section = route.page;
  const nav = (page: "queue" | "workers" | "inbox" | "triggers", label: string) => {
    if (slug === undefined) return null;
    const target: Route =
      page === "queue" ? { page, slug, filters: {} } : page === "inbox" ? { page, slug, view: "open" } : { page, slug };
    const current = section === page || (page === "queue" && section === "job");
    return (
      <li>
        <a href={linkTo(target)} aria-current={current ? "page" : undefined}>
          {label}
        </a>
      </li>
    );
  };
  return (
    <header className="top">
      <a className="brand" href={linkTo({ page: "home" })}>
        IAS Console
      </a>
      <WorkspaceSwitcher current={slug} />
      <nav aria-label="Sections">
        <ul>
          {nav("queue", "Queue")}
          {nav("workers", "Workers")}
          {nav("inbox", "Inbox")}
          {nav("triggers", "Triggers")}
        </ul>
      </nav>
      <button type="button" className="secondary" onClick={() => void signOut()}>
        Sign out
      </button>
    </header>
  );
}

/** The workspace named by the route, from the person's own list; others are "not yours". */
function InWorkspace({ slug, children }: { slug: string; children: ReactNode }) {
  const workspaces = useMyWorkspaces();
  const workspace = workspaces?.find((candidate) => candidate.slug === slug);
  useEffect(() => {
    if (workspace) rememberSlug(workspace.slug);
  }, [workspace]);
  if (workspaces === undefined) return <Loading what="the workspace" />;
  if (workspace === undefined) {
    return (
      <p role="alert">
        You are not a member of a workspace "{slug}". <a href={linkTo({ page: "home" })}>Go to your workspaces</a>.
      </p>
    );
  }
  return <WorkspaceContext.Provider value={workspace}>{children}</WorkspaceContext.Provider>;
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "home":
      return <Home />;
    case "new-workspace":
      return <CreateWorkspace />;
    case "device":
      return <DeviceApproval deviceId={route.deviceId} />;
    case "not-found":
      return (
        <p role="alert">
          No such page. <a href={linkTo({ page: "home" })}>Go to your workspaces</a>.
        </p>
      );
    case "queue":
      return (
        <InWorkspace slug={route.slug}>
          <QueuePage filters={route.filters} />
        </InWorkspace>
      );
    case "job":
      return (
        <InWorkspace slug={route.slug}>
          <JobPage jobId={route.jobId} />
        </InWorkspace>
      );
    case "workers":
      return (
        <InWorkspace slug={route.slug}>
          <WorkersPage />
        </InWorkspace>
      );
    case "triggers":
      return (
        <InWorkspace slug={route.slug}>
          <RunTriggersPage />
        </InWorkspace>
      );
    case "inbox":
      return (
        <InWorkspace slug={route.slug}>
          <InboxPage view={route.view} decisionId={route.decisionId} />
        </InWorkspace>
      );
  }
}

/**
 * When a page change (or signing in or out) removes the focused control, the focus would fall
 * to the document and Tab would resume from where that control was; it goes to the new page
 * instead, as after a page load. Focus that survived (a header link) stays where it is.
 */
function useFocusKeptOnPageChange(key: string | null) {
  const shown = useRef<string | null>(null);
  useEffect(() => {
    if (key === null) return;
    const lost = document.activeElement === null || document.activeElement === document.body;
    if (shown.current !== null && shown.current !== key && lost) document.getElementById("main")?.focus();
    shown.current = key;
  }, [key]);
}

export function App() {
  const route = useRoute();
  const { isLoading, isAuthenticated } = useConvexAuth();
  useFocusKeptOnPageChange(isLoading ? null : `${isAuthenticated}:${hrefOf(route)}`);
  if (isLoading) return <Loading what="the Console" />;
  if (!isAuthenticated) {
    return (
      <>
        <SkipLink />
        <SignIn />
      </>
    );
  }
  return (
    <>
      <SkipLink />
      <Header route={route} />
      <main id="main" tabIndex={-1}>
        <ErrorBoundary resetKey={hrefOf(route)}>
          <Page route={route} />
        </ErrorBoundary>
      </main>
    </>
  );
}
