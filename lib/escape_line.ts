/**
 * Escaping that keeps one log record on one line.
 *
 * @module
 */

// C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the
// backslash itself (so that escaping stays reversible and unambiguous).
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\\]/;
// deno-lint-ignore no-control-regex -- as above
const UNSAFE_ALL = /[\x00-\x1f\x7f-\x9f\u2028\u2029\\]/g;
const SHORT: Record<string, string> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\\": "\\\\",
};

function escapeChar(char: string): string {
  const short = SHORT[char];
  if (short !== undefined) return short;
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Escapes text so that it is always exactly one line: CR, LF, tab, every
 * other C0/C1 control character (ANSI escapes start with one), DEL, U+2028,
 * U+2029 and the backslash are written as backslash escapes, and lone
 * surrogates (text that came from invalid UTF-8 or broken UTF-16) become
 * U+FFFD. Text with nothing to escape is returned as it is, without copying.
 *
 * @param text Any string, typically user input.
 * @returns The text with every line-splitting or terminal-controlling
 * character escaped.
 *
 * @example Escaping an injection attempt
 * ```ts
 * import { escapeLine } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(escapeLine("a\nb\r\x1b[2J"), "a\\nb\\r\\x1b[2J");
 * equal(escapeLine("plain"), "plain");
 * ```
 */
export function escapeLine(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return UNSAFE.test(wellFormed) ? wellFormed.replace(UNSAFE_ALL, escapeChar) : wellFormed;
}
