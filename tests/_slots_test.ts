import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { Slots } from "../lib/_slots.ts";

Deno.test("Slots: an item is found by its handle until taken; a freed place is used again", () => {
  const slots = new Slots<string>();
  const a = slots.add("a");
  const b = slots.add("b");
  equal(slots.size, 2);
  equal(slots.get(a), "a");
  equal(slots.take(a), "a");
  equal(slots.take(a), undefined, "taken once");
  equal(slots.get(a), undefined);
  const c = slots.add("c");
  equal(c, a, "the freed place");
  equal(slots.get(c), "c");
  deepEqual([slots.size, slots.get(b)], [2, "b"]);
});

Deno.test("Slots: takeAll returns every item, and no handle given before it finds one again", () => {
  const slots = new Slots<string>();
  const handles = ["a", "b", "c"].map((item) => slots.add(item));
  slots.take(handles[1] as number);
  deepEqual(slots.takeAll().sort(), ["a", "c"]);
  equal(slots.size, 0);
  const d = slots.add("d");
  for (const handle of handles) equal(slots.take(handle), undefined, "a stale handle");
  equal(slots.take(d), "d");
});

Deno.test("Slots: random adds, takes and takeAlls agree with a Map", () => {
  const op = fc.oneof(
    fc.constant({ kind: "add" as const }),
    fc.nat(40).map((pick) => ({ kind: "take" as const, pick })),
    fc.constant({ kind: "takeAll" as const }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
    const slots = new Slots<number>();
    const model = new Map<number, number>(); // handle -> item, for the handles still held
    const given: number[] = []; // every handle, held or not
    let next = 0;
    for (const o of ops) {
      if (o.kind === "add") {
        const item = next++;
        const handle = slots.add(item);
        equal(model.has(handle), false, "a handle in use is not given again");
        model.set(handle, item);
        given.push(handle);
      } else if (o.kind === "take") {
        const handle = given[o.pick % Math.max(1, given.length)];
        if (handle === undefined) continue;
        equal(slots.take(handle), model.get(handle));
        model.delete(handle);
      } else {
        deepEqual(slots.takeAll().sort((x, y) => x - y), [...model.values()].sort((x, y) => x - y));
        model.clear();
      }
      equal(slots.size, model.size);
    }
  }));
});
