/**
 * Reading a request body with a size limit and a deadline.
 *
 * @module
 */
import { offAbort, onAbort } from "./_abort_hooks.ts";
import { HttpError } from "./http_error.ts";
// Body deadlines share timers: one per distinct timeout, not one per request.
import { sharedTimeouts, type TimeoutQueue } from "./timeout_queue.ts";

/** Options for {@linkcode readBody}. */
export interface ReadBodyOptions {
  /** Largest body in bytes; more is answered 413 without reading on. @default {16384} */
  limit?: number;
  /** Milliseconds the whole body may take to arrive; slower is answered 408. @default {10000} */
  timeout?: number;
  /** Where the deadline is kept. @default {a queue shared by all body reads} */
  timeouts?: TimeoutQueue;
  /**
   * Stops reading (the body is cancelled) and rejects with the signal's
   * reason, e.g. `request.signal` to stop once the client is gone.
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
}

/**
 * Reads the whole body, stopping as soon as it passes `limit` bytes (a
 * `Content-Length` over the limit is refused before reading anything, a
 * chunked body as soon as its chunks add up past it) or when `timeout`
 * passes.
 *
 * @param request The request whose body to read.
 * @param options The size limit and deadline.
 * @returns The body's bytes (empty if it has none).
 * @throws {HttpError} 413 `payload_too_large` or 408 `request_timeout`; the
 * signal's reason if `options.signal` aborted.
 *
 * @example
 * ```ts
 * import { HttpError, readBody } from "./mod.ts";
 * import { equal, rejects } from "node:assert/strict";
 *
 * const small = new Request("http://x/", { method: "POST", body: "hello" });
 * equal((await readBody(small)).length, 5);
 * const big = new Request("http://x/", { method: "POST", body: "x".repeat(20_000) });
 * await rejects(readBody(big), HttpError);
 * ```
 */
export async function readBody(
  request: Request,
  options: ReadBodyOptions = {},
): Promise<Uint8Array> {
  const { limit = 16_384, timeout = 10_000, timeouts = sharedTimeouts, signal } = options;
  const tooLarge = (): HttpError =>
    new HttpError(413, "payload_too_large", `Request body is larger than ${limit} bytes`);
  if (Number(request.headers.get("content-length") ?? 0) > limit) throw tooLarge();
  if (request.body === null) return new Uint8Array();
  signal?.throwIfAborted();
  const reader = request.body.getReader();
  let timedOut = false;
  const stop = (): void => void reader.cancel().catch(() => {});
  const deadline = timeouts.add(timeout, () => {
    timedOut = true;
    stop();
  });
  if (signal) onAbort(signal, stop);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (timedOut) {
        throw new HttpError(408, "request_timeout", `Request body took longer than ${timeout} ms`);
      }
      if (done) break;
      total += value.length;
      if (total > limit) {
        reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } finally {
    timeouts.remove(deadline);
    if (signal) offAbort(signal, stop);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
