// A property test of the worker pool: random jobs run at once on a pool of
// random size, among them jobs that throw, close or exit their worker, or
// crash it (each during the job, or just after it), jobs whose arguments
// cannot be cloned, and jobs that spin until their signal's deadline. Each job
// settles as its kind says, and only its own way (a crash or a termination
// fails no other job); the pool never holds more workers than its size, and
// still works afterwards.
import { equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { WorkerPool } from "../lib/mod.ts";

const MODULE = new URL("./fixtures/worker_tasks.ts", import.meta.url);

type Job =
  | { kind: "square"; n: number; deadline: number | undefined }
  | {
    kind: "fail" | "closeSelf" | "exitSelf" | "crashLater" | "forgetRejection" | "uncloneable";
    deadline: number | undefined;
  }
  | { kind: "closeAfterwards"; how: "close" | "exit" | "reject"; deadline: number | undefined }
  | { kind: "spin"; deadline: number };

const deadline = fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined });
const job: fc.Arbitrary<Job> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("square"), n: fc.integer(), deadline }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        "fail",
        "closeSelf",
        "exitSelf",
        "crashLater",
        "forgetRejection",
        "uncloneable",
      ),
      deadline,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("closeAfterwards"),
      how: fc.constantFrom("close", "exit", "reject"),
      deadline,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("spin"), deadline: fc.integer({ min: 1, max: 30 }) }),
  },
) as fc.Arbitrary<Job>;

/** How a job of each kind ends when nothing stops it. */
function natural(job: Job): (outcome: { value?: unknown; error?: Error }) => boolean {
  switch (job.kind) {
    case "square":
      return ({ value }) => value === job.n * job.n;
    case "fail":
      return ({ error }) => error?.message === "failed on purpose";
    case "closeSelf":
    case "exitSelf":
      return ({ error }) => /it closed its worker/.test(error?.message ?? "");
    case "closeAfterwards":
      return ({ value }) => value === 1;
    case "uncloneable":
      return ({ error }) => error?.name === "DataCloneError";
    case "crashLater":
    case "forgetRejection":
      return ({ error }) => /its worker crashed/.test(error?.message ?? "");
    case "spin":
      return () => false; // never ends by itself
  }
}

Deno.test("WorkerPool model: each job ends its own way; crashes and terminations touch no other", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(job, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 3 }),
      async (jobs, size) => {
        await using pool = new WorkerPool({ size });
        const outcomes = await Promise.all(jobs.map(async (job) => {
          const signal = job.deadline === undefined ? undefined : AbortSignal.timeout(job.deadline);
          const args = job.kind === "square"
            ? [job.n]
            : job.kind === "fail"
            ? ["failed on purpose"]
            : job.kind === "closeAfterwards"
            ? [job.how]
            : job.kind === "uncloneable"
            ? [() => 1] // cannot cross to a worker
            : [];
          const name = job.kind === "uncloneable" ? "square" : job.kind;
          try {
            return { value: await pool.run(MODULE, name, args, signal && { signal }) };
          } catch (error) {
            return { error: error as Error };
          } finally {
            ok(pool.workers <= size, `${pool.workers} workers, size ${size}`);
          }
        }));
        for (const [i, job] of jobs.entries()) {
          const outcome = outcomes[i] as { value?: unknown; error?: Error };
          const timedOut = outcome.error?.name === "TimeoutError" && job.deadline !== undefined;
          ok(natural(job)(outcome) || timedOut, `${job.kind}: ${JSON.stringify(outcome)}`);
        }
        equal(await pool.run(MODULE, "square", [7]), 49, "the pool still works");
      },
    ),
    { numRuns: 12 },
  );
});
