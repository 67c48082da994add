/** Workspaces: the switcher in the header, the create form, and "/" choosing where to go. */
import { useMutation, useQuery } from "convex/react";
import { useEffect, useState, type FormEvent } from "react";
import { api } from "../../../../convex/_generated/api";
import { ErrorNote, Loading } from "../components";
import { slugFromName } from "../format";
import { navigate } from "../navigation";
import { rememberedSlug } from "../workspace";

export type MyWorkspace = NonNullable<ReturnType<typeof useMyWorkspaces>>[number];

export function useMyWorkspaces() {
  return useQuery(api.workspaces.listMine, {});
}

/** A select of the person's workspaces; choosing one opens its queue. */
export function WorkspaceSwitcher({ current }: { current?: string }) {
  const workspaces = useMyWorkspaces();
  if (workspaces === undefined || workspaces.length === 0) return null;
  return (
    <div className="switcher">
      <label htmlFor="workspace-switcher">Workspace</label>
      <select
        id="workspace-switcher"
        value={current ?? ""}
        onChange={(event) => {
          const slug = event.currentTarget.value;
          if (slug === "+new") navigate({ page: "new-workspace" });
          else if (slug) navigate({ page: "queue", slug, filters: {} });
        }}
      >
        {current === undefined && <option value="">Choose…</option>}
        {workspaces.map((workspace) => (
          <option key={workspace._id} value={workspace.slug}>
            {workspace.name} ({workspace.slug})
          </option>
        ))}
        <option value="+new">+ New workspace…</option>
      </select>
    </div>
  );
}

/** "/": the workspace opened last in this browser, else the first, else the create form. */
export function Home() {
  const workspaces = useMyWorkspaces();
  const target =
    workspaces?.find((workspace) => workspace.slug === rememberedSlug()) ?? (workspaces ? workspaces[0] : undefined);
  useEffect(() => {
    if (target) navigate({ page: "queue", slug: target.slug, filters: {} });
  }, [target]);
  if (workspaces === undefined) return <Loading what="your workspaces" />;
  if (target) return <Loading what={target.name} />;
  return <CreateWorkspace first />;
}

export function CreateWorkspace({ first = false }: { first?: boolean }) {
  const create = useMutation(api.workspaces.create);
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [slugEdited, setSlugEdited] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await create({ name, slug });
      navigate({ page: "queue", slug, filters: {} });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel narrow">
      <h1>{first ? "Create your first workspace" : "New workspace"}</h1>
      {first && <p>A workspace holds a team's repos, workers, jobs and decisions. You will be its owner.</p>}
      <form onSubmit={submit}>
        <label htmlFor="workspace-name">Name</label>
        <input
          id="workspace-name"
          value={name}
          required
          maxLength={120}
          onChange={(event) => {
            setName(event.currentTarget.value);
            if (!slugEdited) setSlug(slugFromName(event.currentTarget.value));
          }}
        />
        <label htmlFor="workspace-slug">Slug</label>
        <input
          id="workspace-slug"
          value={slug}
          required
          aria-describedby="workspace-slug-hint"
          onChange={(event) => {
            setSlug(event.currentTarget.value);
            setSlugEdited(true);
          }}
        />
        <p id="workspace-slug-hint" className="hint">
          Used in URLs and by <code>ias auth login --workspace</code>.
        </p>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create workspace"}
        </button>
      </form>
    </section>
  );
}
