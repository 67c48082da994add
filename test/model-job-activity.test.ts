/** The queue overview's arithmetic (convex/model/jobActivity.ts): budgeted reads and chart buckets. */
import { describe, expect, test } from "vitest";
import { bucketJobsByStatus, takeWithinBudget } from "../convex/model/jobActivity";

async function* numbers(count: number, read: number[]) {
  for (let i = 0; i < count; i++) {
    read.push(i);
    yield i;
  }
}

describe("takeWithinBudget", () => {
  test("a range shorter than the limits is taken whole and complete", async () => {
    const read: number[] = [];
    expect(await takeWithinBudget(numbers(3, read), { maxItems: 5, maxBytes: 100 }, () => 1)).toEqual({
      items: [0, 1, 2],
      complete: true,
    });
  });

  test("the item limit stops reading one item past it, and says incomplete", async () => {
    const read: number[] = [];
    expect(await takeWithinBudget(numbers(1_000, read), { maxItems: 3, maxBytes: 100 }, () => 1)).toEqual({
      items: [0, 1, 2],
      complete: false,
    });
    expect(read).toEqual([0, 1, 2, 3]);
  });

  test("exactly the limit is complete when the range ends there", async () => {
    expect(await takeWithinBudget(numbers(3, []), { maxItems: 3, maxBytes: 100 }, () => 1)).toEqual({
      items: [0, 1, 2],
      complete: true,
    });
  });

  test("the byte budget stops reading once passed", async () => {
    const read: number[] = [];
    const taken = await takeWithinBudget(numbers(1_000, read), { maxItems: 1_000, maxBytes: 250 }, () => 100);
    expect(taken).toEqual({ items: [0, 1, 2], complete: false });
    expect(read).toHaveLength(4);
  });
});

describe("bucketJobsByStatus", () => {
  const since = 1_000_000;
  const minute = 60_000;

  test("12 buckets of 5 minutes from since; each job counted once in its creation bucket", () => {
    const buckets = bucketJobsByStatus(
      [
        { createdAt: since, status: "done" },
        { createdAt: since + 5 * minute - 1, status: "failed" },
        { createdAt: since + 5 * minute, status: "running" },
        { createdAt: since + 60 * minute - 1, status: "pending" },
      ],
      since,
    );
    expect(buckets).toHaveLength(12);
    expect(buckets[1]!.start).toBe(since + 5 * minute);
    expect(buckets[0]!.counts).toEqual({
      scheduled: 0,
      waiting: 0,
      pending: 0,
      running: 0,
      done: 1,
      failed: 1,
      blocked: 0,
      canceled: 0,
    });
    expect(buckets[1]!.counts.running).toBe(1);
    expect(buckets[11]!.counts.pending).toBe(1);
    const total = buckets.reduce((sum, bucket) => sum + Object.values(bucket.counts).reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(4);
  });

  test("jobs before since or after the hour are left out", () => {
    const buckets = bucketJobsByStatus(
      [
        { createdAt: since - 1, status: "done" },
        { createdAt: since + 60 * minute, status: "done" },
      ],
      since,
    );
    expect(buckets.every((bucket) => bucket.counts.done === 0)).toBe(true);
  });
});
