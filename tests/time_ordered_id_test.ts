import { deepEqual, equal, ok } from "node:assert/strict";
import { timeOrderedId } from "../lib/mod.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// The generator keeps the last id's time, and an earlier time encodes that
// one: each test here starts later than every time the tests before it gave.

Deno.test("timeOrderedId(): 10,000 ids asked for in one millisecond are unique and in order", () => {
  const ids = Array.from({ length: 10_000 }, () => timeOrderedId(42));
  equal(new Set(ids).size, ids.length);
  deepEqual(ids.toSorted(), ids);
  ok(ids.every((id) => V7.test(id)));
});

Deno.test("timeOrderedId(): ids made in one millisecond sort in the order made", () => {
  const ids = Array.from({ length: 4_096 }, () => timeOrderedId(1_000));
  deepEqual(ids.toSorted(), ids);
  ok(ids.every((id) => V7.test(id) && id.startsWith("00000000-03e8-7")));
  equal(ids[1]?.slice(14, 18), "7001");
  const past = timeOrderedId(1_000);
  equal(past.slice(0, 18), "00000000-03e9-7000", "the 4,097th takes the next millisecond");
  ok(past > ids[4_095]!);
  equal(timeOrderedId(1_001).slice(14, 18), "7001", "which the clock then reaches");
  equal(timeOrderedId(1_002).slice(14, 18), "7000", "a new millisecond starts again");
});

Deno.test("timeOrderedId(): a clock set back does not take ids back with it", () => {
  const before = timeOrderedId(5_000);
  const after = timeOrderedId(4_000);
  ok(after > before, `${after} > ${before}`);
  equal(after.slice(0, 13), before.slice(0, 13), "the last id's time");
  ok(timeOrderedId(5_001) > after);
});

Deno.test("timeOrderedId() makes UUIDv7s that carry the time and sort by it", () => {
  ok(timeOrderedId(0xffff_ffff) < timeOrderedId(0x1_0000_0000), "across a hex digit boundary");
  const id = timeOrderedId(0x0123_4567_89ab);
  ok(V7.test(id), id);
  equal(id.slice(0, 13), "01234567-89ab");
  ok(timeOrderedId() > id, "now, after 2009");
});
