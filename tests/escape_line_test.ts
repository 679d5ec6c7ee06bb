import { deepEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { escapeJsonLine, escapeLine } from "../lib/mod.ts";

Deno.test("escapeLine() escapes CR, LF, tab, controls, DEL, U+2028/9 and backslash", () => {
  equal(escapeLine("a\r\nb"), "a\\r\\nb");
  equal(escapeLine("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  equal(escapeLine("\0\x7f\x85"), "\\x00\\x7f\\x85");
  equal(escapeLine("x\u2028y\u2029z"), "x\\u2028y\\u2029z");
  equal(escapeLine("C:\\path\\n"), "C:\\\\path\\\\n");
  equal(escapeLine("tab\there"), "tab\\there");
});

Deno.test("escapeLine() escapes the explicit bidi controls, and keeps the marks RTL text uses", () => {
  // Displayed, the override reverses the rest: it would read "pay to: evil@example.com".
  equal(escapeLine("pay to: \u202emoc.elpmaxe@live"), "pay to: \\u202emoc.elpmaxe@live");
  equal(
    escapeLine("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069"),
    "\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069",
  );
  equal(escapeLine("שלום\u200f!"), "שלום\u200f!");
});

Deno.test("escapeLine() replaces lone surrogates and keeps valid pairs", () => {
  equal(escapeLine("a\ud800b"), "a\ufffdb");
  equal(escapeLine("emoji 😀"), "emoji 😀");
});

Deno.test("escapeLine() output never holds a line break or control character", () => {
  fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => {
    const escaped = escapeLine(text);
    // deno-lint-ignore no-control-regex -- asserting their absence
    ok(!/[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]/.test(escaped));
    ok(escaped.isWellFormed());
  }));
});

Deno.test("escapeJsonLine() makes any JSON one line that parses to the same value", () => {
  const tricky = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.constantFrom('say "hi"', "a\nb", "back\\slash", "x\u2028y", "\x85\x7f", "\ud800", "\u202e!"),
  );
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 2 }), tricky, (value, text) => {
    const json = JSON.stringify({ value, text });
    const line = escapeJsonLine(json);
    // deno-lint-ignore no-control-regex -- asserting their absence
    ok(!/[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]/.test(line), line);
    deepEqual(JSON.parse(line), JSON.parse(json));
  }));
  // escapeLine, by contrast, doubles JSON's own backslashes: the line no longer parses.
  throws(() => JSON.parse(escapeLine(JSON.stringify('say "hi"'))), SyntaxError);
});
