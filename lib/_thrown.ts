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
