/**
 * The Console's entry point: one ConvexReactClient for the configured deployment (config.ts),
 * @convex-dev/auth's provider around the app.
 */
import { ConvexAuthProvider } from "@convex-dev/auth/react";
import { ConvexReactClient } from "convex/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { convexUrlOf } from "./config";
import "./styles.css";

const client = new ConvexReactClient(convexUrlOf(window.IAS_CONSOLE_CONFIG, window.location.origin));

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ConvexAuthProvider client={client}>
      <App />
    </ConvexAuthProvider>
  </StrictMode>,
);
