/**
 * `/auth/device?id=`: where a deployment's device-login approval URL lands (SPEC §5). The
 * signed-in member compares the code with their terminal and approves or denies as
 * themselves; once decided, the page says who decided (and "you", when it was them).
 */
import { useMutation, useQuery } from "convex/react";
import { useState } from "react";
import { api } from "../../../../convex/_generated/api";
import { Badge, ErrorNote, Fields, Loading } from "../components";
import { clockTime } from "../format";

export function DeviceApproval({ deviceId }: { deviceId: string }) {
  const session = useQuery(api.deviceSessions.get, deviceId ? { deviceId } : "skip");
  const approve = useMutation(api.deviceSessions.approve);
  const deny = useMutation(api.deviceSessions.deny);
  const [error, setError] = useState<unknown>(null);
  if (!deviceId) return <p role="alert">This link has no device id. Run the login command again.</p>;
  if (session === undefined) return <Loading what="the device login" />;

  const decide = (action: typeof approve) => {
    setError(null);
    action({ deviceId }).catch(setError);
  };
  const decided =
    session.decidedAt === null
      ? null
      : `${session.decidedByYou ? "You" : (session.decidedByName ?? "Someone")} decided at ${clockTime(session.decidedAt)}.`;
  return (
    <section className="panel narrow" aria-labelledby="device-heading">
      <h1 id="device-heading">Device login</h1>
      {session.status === "pending" && (
        <p>A command line asks to act in this workspace as you. Approve only if it shows the same code.</p>
      )}
      <Fields
        rows={[
          ["Code", <span className="code">{session.userCode}</span>],
          ["Machine", session.machineName ?? "(not given)"],
          ["Workspace", session.workspace ? `${session.workspace.name} (${session.workspace.slug})` : "(deleted)"],
          ["Status", <Badge value={session.status} />],
        ]}
      />
      {decided && <p role="status">{decided}</p>}
      {session.status === "approved" && <p>The command line receives its token at its next poll.</p>}
      {session.status === "consumed" && <p>The command line has its token. You can close this page.</p>}
      {session.status === "pending" && (
        <div className="actions">
          <button type="button" onClick={() => decide(approve)}>
            Approve
          </button>
          <button type="button" className="danger" onClick={() => decide(deny)}>
            Deny
          </button>
        </div>
      )}
      {session.status === "approved" && (
        <button type="button" className="danger" onClick={() => decide(deny)}>
          Withdraw the approval
        </button>
      )}
      <ErrorNote error={error} />
    </section>
  );
}
