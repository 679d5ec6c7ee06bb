/**
 * Escaping that keeps one log record on one line.
 *
 * @module
 */

// C0 and C1 controls, DEL, the Unicode line and paragraph separators, the
// explicit bidi controls (embeddings, overrides, isolates: with them a line
// shows its text in another order than it holds, "Trojan Source",
// CVE-2021-42574; the marks, which RTL text uses, stay), and the backslash
// itself (so that escaping stays reversible and unambiguous).
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\\]/;
// deno-lint-ignore no-control-regex -- as above
const UNSAFE_ALL = /[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\\]/g;
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
 * U+2029, the explicit bidi controls (U+202A–U+202E, U+2066–U+2069, which
 * show a line's text in another order) and the backslash are written as
 * backslash escapes, and lone
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

// What JSON.stringify leaves raw that breaks or hides a line: it escapes the
// C0 controls itself, but not DEL, C1, the Unicode separators or bidi controls.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const JSON_UNSAFE_ALL = /[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]/g;

const jsonEscape = (char: string): string =>
  `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Makes JSON text one safe line without changing what it parses to: every
 * control character and line or paragraph separator becomes a `\uXXXX`
 * escape, which is valid inside a JSON string (the only place JSON text can
 * hold them), and backslashes stay as they are. Any other text still comes
 * out as one line. The dead-letter file's lines are written with it, so each
 * parses back to its record; {@linkcode escapeLine} would double the
 * backslashes of JSON's own escapes.
 *
 * @param json JSON text, e.g. from `JSON.stringify`.
 * @returns The same JSON, on one line.
 *
 * @example A record with a quote, a newline and a separator
 * ```ts
 * import { escapeJsonLine } from "./mod.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * const record = { message: 'say "hi"\nthere\u2028' };
 * const line = escapeJsonLine(JSON.stringify(record));
 * equal(line.includes("\u2028"), false);
 * deepEqual(JSON.parse(line), record);
 * ```
 */
export function escapeJsonLine(json: string): string {
  const wellFormed = json.isWellFormed() ? json : json.toWellFormed();
  return wellFormed.replace(JSON_UNSAFE_ALL, jsonEscape);
}
