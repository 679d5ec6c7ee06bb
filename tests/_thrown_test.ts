import { equal, ok } from "node:assert/strict";
import { MAX_ERROR_LENGTH, readable, recordedErrorText } from "../lib/_thrown.ts";

Deno.test("recordedErrorText keeps a short text whole, and cuts a long one where a character ends", () => {
  equal(recordedErrorText(new Error("smtp down")), "smtp down");
  equal(recordedErrorText("x".repeat(MAX_ERROR_LENGTH)), "x".repeat(MAX_ERROR_LENGTH));
  const long = recordedErrorText(new Error("y".repeat(100_000)));
  equal(long, `${"y".repeat(MAX_ERROR_LENGTH)}… (${100_000 - MAX_ERROR_LENGTH} more characters)`);
  // An emoji (two UTF-16 units) across the cut is left out whole, not halved.
  const across = recordedErrorText(`${"z".repeat(MAX_ERROR_LENGTH - 1)}😀 and more`);
  ok(across.isWellFormed(), "no lone surrogate");
  ok(across.startsWith(`${"z".repeat(MAX_ERROR_LENGTH - 1)}… (`), across.slice(-40));
});

Deno.test("readable describes a thrown value whose text cannot be read", () => {
  const bare = Object.create(null);
  equal(readable(bare) instanceof TypeError, true);
  const fine = new Error("ok");
  equal(readable(fine), fine);
});
