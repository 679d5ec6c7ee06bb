// What a task threw, made safe to read. The runner records, logs and
// journals every failure by its text; a thrown value whose text cannot be
// read must not break that (and with it the runner's state). Internal.

/**
 * `thrown` itself if its text can be read (an Error's message, any other
 * value's String()), else a TypeError saying what it was: an object without
 * a prototype, one whose toString throws, a revoked Proxy, an Error whose
 * message is no string.
 */
export function readable(thrown: unknown): unknown {
  try {
    if (typeof errorText(thrown) === "string") return thrown;
  } catch {
    // Described below.
  }
  return new TypeError(
    `Cannot read the ${typeof thrown} that was thrown: it has no usable message or string form`,
  );
}

/** The text of a failure: an Error's message, else the value as a string. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The most characters of a failure's text that a task keeps: its status, its
 * journal row and its dead letter hold this much. An error that quotes a
 * whole response body would otherwise be kept in full for every finished
 * group the status route remembers (10,000 by default) and in every write.
 */
export const MAX_ERROR_LENGTH = 4_096;

/**
 * A failure's text as a task records it: at most MAX_ERROR_LENGTH
 * characters, then how many more there were.
 */
export function recordedErrorText(error: unknown): string {
  const text = errorText(error);
  if (text.length <= MAX_ERROR_LENGTH) return text;
  // Not between the two halves of a surrogate pair.
  const high = text.charCodeAt(MAX_ERROR_LENGTH - 1);
  const end = high >= 0xd800 && high <= 0xdbff ? MAX_ERROR_LENGTH - 1 : MAX_ERROR_LENGTH;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}
