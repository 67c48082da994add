/** Sign in or sign up with email and password (@convex-dev/auth's Password provider). */
import { useAuthActions } from "@convex-dev/auth/react";
import { useState, type FormEvent } from "react";

type Flow = "signIn" | "signUp";

/** @convex-dev/auth's errors name the failure, not what to do; these say it for a person. */
function signInProblem(flow: Flow, error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  if (/InvalidSecret|InvalidAccountId|Invalid credentials/i.test(text)) return "Wrong email or password.";
  if (/already exists/i.test(text)) return "An account with this email already exists: sign in instead.";
  if (/Invalid password/i.test(text)) return "The password must be at least 8 characters.";
  return flow === "signIn" ? `Could not sign in: ${text}` : `Could not create the account: ${text}`;
}

export function SignIn() {
  const { signIn } = useAuthActions();
  const [flow, setFlow] = useState<Flow>("signIn");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    form.set("flow", flow);
    setBusy(true);
    setProblem(null);
    try {
      await signIn("password", form);
    } catch (error) {
      setProblem(signInProblem(flow, error));
    } finally {
      setBusy(false);
    }
  }

  const signingUp = flow === "signUp";
  return (
    <main id="main" className="sign-in" tabIndex={-1}>
      <h1>{signingUp ? "Create your IAS Console account" : "Sign in to the IAS Console"}</h1>
      <form onSubmit={submit} aria-describedby={problem ? "sign-in-problem" : undefined}>
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username" required />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete={signingUp ? "new-password" : "current-password"}
          minLength={signingUp ? 8 : undefined}
          required
        />
        {signingUp && <p className="hint">At least 8 characters.</p>}
        {problem && (
          <p id="sign-in-problem" className="error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Please wait…" : signingUp ? "Create account" : "Sign in"}
        </button>
      </form>
      <button
        type="button"
        className="link"
        onClick={() => {
          setFlow(signingUp ? "signIn" : "signUp");
          setProblem(null);
        }}
      >
        {signingUp ? "I have an account: sign in" : "No account yet? Create one"}
      </button>
    </main>
  );
}
