import { deepEqual, equal, throws } from "node:assert/strict";
import { Histogram } from "../lib/mod.ts";

Deno.test("Histogram: a value on a bound counts in that bucket; one past the last only in +Inf (count)", () => {
  const histogram = new Histogram([1, 2]);
  for (const value of [0, 1, 1.5, 2, 7]) histogram.observe(value);
  deepEqual(histogram.cumulative(), [2, 4]);
  equal(histogram.count, 5);
  equal(histogram.sum, 11.5);
});

Deno.test("Histogram refuses bounds that are not finite or do not ascend", () => {
  throws(
    () => new Histogram([1, 1]),
    /Cannot make histogram: bounds must be finite and ascend, got 1, 1/,
  );
  throws(() => new Histogram([2, 1]), RangeError);
  throws(() => new Histogram([Number.NaN]), RangeError);
});
