/**
 * Reading a request body with a size limit and a deadline.
 *
 * @module
 */
import { offAbort, onAbort } from "./_abort_hooks.ts";
import { abortable } from "./abortable.ts";
import { HttpError } from "./http_error.ts";
import { keep, keptBodies } from "./_kept_bodies.ts";
// Body deadlines share timers: one per distinct timeout, not one per request.
import { sharedTimeouts, type TimeoutQueue } from "./timeout_queue.ts";

/**
 * Options for {@linkcode readBody}.
 *
 * @example A smaller limit
 * ```ts
 * import { HttpError, readBody, type ReadBodyOptions } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * const options: ReadBodyOptions = { limit: 4, timeout: 1_000 };
 * const request = new Request("http://x/", { method: "POST", body: "hello" });
 * await rejects(readBody(request, options), (error) => error instanceof HttpError && error.status === 413);
 * ```
 */
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
 * Reads the whole body, up to `limit` bytes: a `Content-Length` over the
 * limit is refused before anything is read, a body without one (chunked, or
 * HTTP/2) is read chunk by chunk and refused as soon as it passes the limit,
 * and a body slower than `timeout` is refused.
 *
 * Where the framing bounds the body, it is taken whole, without a stream (a
 * fraction of the cost): with a `Content-Length`, which Deno's HTTP layer
 * holds the body to, or with a Host header and neither `Content-Length` nor
 * `Transfer-Encoding`, which in HTTP/1.x means no body (RFC 9112, section
 * 6.3). An HTTP/2 request may send those headers and still stream a body: if
 * it has not fully arrived within 5 ms, it is refused rather than read
 * without a limit. A request made in-process is trusted to match its
 * headers: one that carries more than its `Content-Length` is refused only
 * once read.
 *
 * For a request with an `Idempotency-Key`, `createHandler` fingerprints the
 * body read here: the key sent again with another body is then answered 422
 * `idempotency_key_reused`. A body read another way is not compared.
 *
 * @param request The request whose body to read.
 * @param options The size limit and deadline.
 * @returns The body's bytes (empty if it has none).
 * @throws {HttpError} 413 `payload_too_large`, 408 `request_timeout`, 411
 * `length_required` (the HTTP/2 case above); the signal's reason if
 * `options.signal` aborted.
 *
 * @example Reading a body within the limit
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
export function readBody(
  request: Request,
  options: ReadBodyOptions = {},
): Promise<Uint8Array> {
  // Not an async function: on the demo's path that is one promise and one
  // await more per request. Whatever throws here still rejects.
  try {
    const { limit = 16_384, timeout = 10_000, timeouts = sharedTimeouts, signal } = options;
    const headers = request.headers;
    const length = headers.get("content-length");
    if (length !== null && Number(length) > limit) throw tooLarge(limit);
    signal?.throwIfAborted();
    const read = headers.get("transfer-encoding") !== null ||
        (length === null && headers.get("host") === null)
      ? streamed(request, limit, timeout, timeouts, signal)
      : abortable(
        length === null
          ? whole(request, limit, Math.min(timeout, AT_ONCE_MS), timeouts, lengthRequired)
          : whole(request, limit, timeout, timeouts, () => timedOut(timeout)),
        signal,
      );
    // A request with an Idempotency-Key: the handler fingerprints what was read.
    return keptBodies.has(request) ? read.then((body) => keep(request, body)) : read;
  } catch (error) {
    return Promise.reject(error);
  }
}

// An HTTP/1.x request without framing has an empty body, read at once; an
// HTTP/2 body still streaming in after such headers is refused this soon
// (answering ends the read), since `bytes()` would read it without a limit.
const AT_ONCE_MS = 5;

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "payload_too_large", `Request body is larger than ${limit} bytes`);
}

function timedOut(timeout: number): HttpError {
  return new HttpError(408, "request_timeout", `Request body took longer than ${timeout} ms`);
}

function lengthRequired(): HttpError {
  return new HttpError(
    411,
    "length_required",
    "Request body needs a Content-Length: a streamed HTTP/2 body sent with a Host header is refused",
  );
}

// `request.bytes()` takes a body Deno already holds whole without making a
// stream, but it cannot be stopped at a size: it is used only where the
// framing bounds the body. At the deadline (or the caller's abort) its
// promise is left to settle when Deno closes the request.
function whole(
  request: Request,
  limit: number,
  ms: number,
  timeouts: TimeoutQueue,
  late: () => HttpError,
): Promise<Uint8Array> {
  const bytes = request.bytes();
  return new Promise((resolve, reject) => {
    const deadline = timeouts.add(ms, () => reject(late()));
    bytes.then((body) => {
      timeouts.remove(deadline);
      // Over the limit here: an HTTP/2 body that arrived whole without a
      // Content-Length, or a request made in-process that outgrew its own.
      if (body.length > limit) reject(tooLarge(limit));
      else resolve(body);
    }, (error) => {
      timeouts.remove(deadline);
      reject(error);
    });
  });
}

async function streamed(
  request: Request,
  limit: number,
  timeout: number,
  timeouts: TimeoutQueue,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  let expired = false;
  const stop = (): void => void reader.cancel().catch(() => {});
  const deadline = timeouts.add(timeout, () => {
    expired = true;
    stop();
  });
  if (signal) onAbort(signal, stop);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (expired) throw timedOut(timeout);
      if (done) break;
      total += value.length;
      if (total > limit) {
        reader.cancel().catch(() => {});
        throw tooLarge(limit);
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
