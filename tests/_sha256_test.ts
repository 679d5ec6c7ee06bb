import { equal } from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { sha256Hex } from "../lib/_sha256.ts";

// Group ids and fingerprints are journaled: the hash must stay the one the
// journals were written with (node:crypto's, before), byte for byte.
Deno.test("sha256Hex gives node:crypto's SHA-256 of the text (UTF-8) and the bytes", () => {
  equal(sha256Hex(""), createHash("sha256").digest("hex"));
  fc.assert(fc.property(
    fc.string({ unit: "grapheme", maxLength: 300 }),
    fc.option(fc.uint8Array({ maxLength: 20_000 })),
    (text, bytes) => {
      const expected = createHash("sha256").update(text);
      if (bytes) expected.update(bytes);
      equal(sha256Hex(text, bytes), expected.digest("hex"));
    },
  ));
});
