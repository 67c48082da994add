/**
 * The window of the queue's chart: ACTIVITY_BUCKETS buckets of ACTIVITY_BUCKET_MS, aligned to
 * bucket boundaries, the last one being the current (partial) bucket, so a job created a moment
 * ago is drawn. Pure: unit-tested; the hook re-renders at each boundary, not on a fixed tick.
 */
import { useEffect, useState } from "react";
import { ACTIVITY_BUCKETS, ACTIVITY_BUCKET_MS } from "../../../convex/model/jobActivity";

/** Where the chart starts at `now`: the current bucket's start, minus the buckets before it. */
export function activitySince(now: number, bucketMs = ACTIVITY_BUCKET_MS, buckets = ACTIVITY_BUCKETS): number {
  return Math.floor(now / bucketMs) * bucketMs - (buckets - 1) * bucketMs;
}

/** Milliseconds until the next bucket starts (and the window moves by one bucket). */
export function msUntilNextBucket(now: number, bucketMs = ACTIVITY_BUCKET_MS): number {
  return bucketMs - (now % bucketMs);
}

/** `activitySince(now)`, moved when a new bucket starts; the subscription is the same in between. */
export function useActivitySince(): number {
  const [since, setSince] = useState(() => activitySince(Date.now()));
  useEffect(() => {
    // A small margin past the boundary, so floor() lands in the new bucket.
    const timer = setTimeout(() => setSince(activitySince(Date.now())), msUntilNextBucket(Date.now()) + 50);
    return () => clearTimeout(timer);
  }, [since]);
  return since;
}
