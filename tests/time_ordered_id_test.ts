import { deepEqual, equal, ok } from "node:assert/strict";
import { timeOrderedId } from "../lib/mod.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("timeOrderedId() makes UUIDv7s that carry the time and sort by it", () => {
  const id = timeOrderedId(0x0123_4567_89ab);
  ok(V7.test(id), id);
  equal(id.slice(0, 13), "01234567-89ab");
  ok(timeOrderedId(1_000) < timeOrderedId(1_001));
  ok(timeOrderedId(0xffff_ffff) < timeOrderedId(0x1_0000_0000), "across a hex digit boundary");
});

Deno.test("timeOrderedId() is unique within one millisecond", () => {
  const ids = Array.from({ length: 10_000 }, () => timeOrderedId(42));
  equal(new Set(ids).size, ids.length);
  ok(ids.every((id) => V7.test(id) && id.startsWith("00000000-002a-7")));
});

Deno.test("timeOrderedId(): ids made in one millisecond sort in the order made (its first 4,096)", () => {
  const ids = Array.from({ length: 4_096 }, () => timeOrderedId(43));
  deepEqual(ids.toSorted(), ids);
  ok(ids.every((id) => V7.test(id)));
  equal(ids[1]?.slice(14, 18), "7001");
  ok(timeOrderedId(43) > ids[4_094]!, "past 4,096, after the others (unique, in no order)");
  ok(timeOrderedId(44).slice(14, 18) === "7000", "a new millisecond starts again");
});
