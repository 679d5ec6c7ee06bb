import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { IdTable } from "../lib/_id_table.ts";

type Value = { readonly id: string };

Deno.test("IdTable model: any mix of adds, deletes and finds answers as a list in insertion order does", () => {
  // Few keys, many alike in their low bits (same home slot, runs that wrap
  // round the end), and ids shared between values: every path is exercised.
  const key = fc.constantFrom(0, 1, 15, 16, 31, 47, 63, 1023, 2 ** 30 - 1);
  const step = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("add" as const), key, id: fc.nat(5) }) },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant("delete" as const), which: fc.nat(200) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("deleteAbsent" as const), key }) },
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
      const table = new IdTable<Value>();
      const model: { key: number; value: Value }[] = [];
      for (const s of steps) {
        if (s.kind === "add") {
          const value = { id: `id${s.id}` };
          table.add(s.key, value);
          model.push({ key: s.key, value });
        } else if (s.kind === "delete") {
          const entry = model[s.which % Math.max(1, model.length)];
          if (entry === undefined) continue;
          equal(table.delete(entry.key, entry.value), true);
          model.splice(model.indexOf(entry), 1);
        } else {
          equal(table.delete(s.key, { id: "never added" }), false);
        }
        equal(table.size, model.length);
        for (const k of [0, 1, 15, 16, 31, 47, 63, 1023, 2 ** 30 - 1]) {
          for (let id = 0; id <= 5; id++) {
            const expected = model.findLast((e) => e.key === k && e.value.id === `id${id}`);
            equal(table.find(k, `id${id}`), expected?.value, `key ${k}, id${id}`);
          }
        }
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("IdTable grows with what it holds and shrinks back, keeping every value", () => {
  const table = new IdTable<Value>();
  const values = Array.from({ length: 10_000 }, (_, i) => ({ id: `g${i}` }));
  for (const [i, value] of values.entries()) table.add(i * 7919, value);
  equal(table.size, 10_000);
  for (const [i, value] of values.entries()) {
    if (i % 100 !== 0) equal(table.delete(i * 7919, value), true);
  }
  deepEqual(
    values.filter((_, i) => i % 100 === 0).map((value, n) => table.find(n * 100 * 7919, value.id)),
    values.filter((_, i) => i % 100 === 0),
  );
  equal(table.size, 100);
  equal(table.capacity, 4_096, "shrunk from 32,768 slots, down to its floor");
});

Deno.test("IdTable keeps its slots through waves of values below its shrink floor", () => {
  const table = new IdTable<Value>();
  const wave = Array.from({ length: 1_000 }, (_, i) => ({ id: `g${i}` }));
  for (const [i, value] of wave.entries()) table.add(i, value);
  equal(table.capacity, 2_048);
  for (const [i, value] of wave.entries()) table.delete(i, value);
  // Before, it shrank to 16 slots here, to grow back with the next wave.
  equal(table.capacity, 2_048);
});

Deno.test("IdTable keeps one key's values in order through a resize, also where their run wraps round the end", () => {
  const table = new IdTable<Value>();
  // 16 slots: key 15's run starts in the last slot and wraps round to slot 0.
  const first = { id: "same" };
  const second = { id: "same" };
  table.add(15, first);
  table.add(15, { id: "other" });
  table.add(15, second);
  equal(table.find(15, "same"), second);
  // The ninth value grows the table to 32 slots.
  for (let key = 2; key < 8; key++) table.add(key, { id: `k${key}` });
  equal(table.find(15, "same"), second);
  table.delete(15, second);
  equal(table.find(15, "same"), first);
});
