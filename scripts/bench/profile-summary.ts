/**
 * Profiling aid: where a V8 CPU profile (.cpuprofile) spent its time, by file, by function (self)
 * and inclusive.   npx tsx scripts/bench/profile-summary.ts FILE.cpuprofile
 */
import { readFileSync } from "node:fs";

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
export type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

/** Self time (µs) by node id, the nodes by id, and each node's parent. */
function tree(profile: Profile) {
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  return { self, byId, parent };
}

/** A file named from the repository root (node_modules as nm/). */
const ROOT = new URL("../../", import.meta.url).href;
const shortFile = (url: string) => url.replace(/^.*node_modules\//, "nm/").replace(ROOT, "");

export function summarize(profile: Profile) {
  const { self, byId, parent } = tree(profile);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, time] of self) {
    const frame = byId.get(id)!.callFrame;
    const file = shortFile(frame.url);
    const key = `${frame.functionName || "(anon)"} ${file}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + time);
    byFile.set(file || frame.functionName, (byFile.get(file || frame.functionName) ?? 0) + time);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      const k = `${f.functionName || "(anon)"} ${shortFile(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + time);
    }
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, time]) => `${((100 * time) / total).toFixed(1).padStart(5)} %  ${key}`)
      .join("\n");
  console.log(`\nSelf time by file (total ${(total / 1000).toFixed(0)} ms sampled):\n${top(byFile, 25)}`);
  console.log(`\nSelf time by function:\n${top(byFunction, 45)}`);
  console.log(`\nInclusive time:\n${top(inclusive, Number(process.env.PROFILE_TOP ?? 70))}`);
}

if (process.argv[1]?.endsWith("profile-summary.ts") && process.argv[2] && !process.argv[3]) {
  summarize(JSON.parse(readFileSync(process.argv[2], "utf8")) as Profile);
}

/** The call paths (up to `depth` frames) that lead to functions named `name`, by self time. */
export function callersOf(profile: Profile, name: string, depth = 6) {
  const { self, byId, parent } = tree(profile);
  const paths = new Map<string, number>();
  for (const [id, time] of self) {
    if (byId.get(id)!.callFrame.functionName !== name) continue;
    const frames: string[] = [];
    for (let at = parent.get(id); at !== undefined && frames.length < depth; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      frames.push(`${f.functionName || "(anon)"}@${f.url.split("/").slice(-1)[0]}:${f.lineNumber + 1}`);
    }
    const key = frames.join(" < ");
    paths.set(key, (paths.get(key) ?? 0) + time);
  }
  for (const [key, time] of [...paths.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`${(time / 1000).toFixed(0).padStart(6)} ms  ${key}`);
  }
}

if (process.argv[1]?.endsWith("profile-summary.ts") && process.argv[3]) {
  callersOf(JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Profile, process.argv[3]);
}
