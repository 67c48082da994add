/**
 * Profiling aid for scripts/bench/profile-cycles.ts, preloaded into the local server with
 * `--import`: SIGUSR2 starts the V8 CPU profiler (PROFILE_INTERVAL µs), the next SIGUSR2 writes
 * PROFILE_OUT and stops, so the profile covers only the measured round.
 */
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
const session = new Session();
session.connect();
let on = false;
process.on("SIGUSR2", () => {
  if (!on) {
    on = true;
    session.post("Profiler.setSamplingInterval", { interval: Number(process.env.PROFILE_INTERVAL ?? 250) }, () =>
      session.post("Profiler.enable", () => session.post("Profiler.start", () => process.stdout.write("PROFILING\n"))),
    );
  } else {
    session.post("Profiler.stop", (err, { profile }) => {
      writeFileSync(process.env.PROFILE_OUT ?? "/tmp/prof/window.cpuprofile", JSON.stringify(profile));
      on = false;
      process.stdout.write("PROFILED\n");
    });
  }
});
