// Why scenario 2's scavenges are slow, without posthaste: 25,000 small object
// graphs a second, each kept alive `lifeMs`, beside `ballast` objects that
// never change. Each run promotes about the same bytes per scavenge; what the
// pause costs follows the size of the old generation. Run by hand:
//
//   deno run --v8-flags=--max-semi-space-size=4,--no-allocation-site-pretenuring,--trace-gc-nvp \
//     bench/scavenge_probe.ts <lifeMs> <ballast> | grep '"gc":"s"'
//
// and read each scavenge's "pause" (README, Performance: scenario 2).

const [lifeMs = 100, ballastCount = 0] = Deno.args.map(Number);
const RATE = 25_000;
const RUN_MS = 4_000;

interface Item {
  readonly payload: Record<string, unknown>;
  next: Item | undefined;
}

/** About 25 objects, as many as a waiting task holds. */
function item(i: number): Item {
  const payload: Record<string, unknown> = {
    a: { b: [1, 2, 3], c: () => i, d: new Promise(() => {}) },
    e: { f: {}, g: {}, h: [i] },
    i: `user${i}@example.com`,
    n: i * 1.5,
  };
  payload.list = Array.from({ length: 12 }, (_, k) => ({ k, payload }));
  return { payload, next: undefined };
}

// Kept reachable from the global object, so that nothing can drop it.
(globalThis as { ballast?: unknown }).ballast = Array.from(
  { length: ballastCount },
  (_, b) => ({ b, x: { y: b } }),
);

const capacity = Math.ceil((RATE * lifeMs) / 1_000);
let first: Item | undefined;
let last: Item | undefined;
let live = 0;
const start = performance.now();
for (let i = 0; performance.now() - start < RUN_MS;) {
  const due = Math.floor(((performance.now() - start) * RATE) / 1_000);
  for (; i < due; i++) {
    const next = item(i);
    if (last) last.next = next;
    else first = next;
    last = next;
    if (++live > capacity) {
      first = first?.next;
      live--;
    }
    // What a request leaves behind: short-lived garbage.
    Array.from({ length: 100 }, (_, k) => ({ k }));
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
}
