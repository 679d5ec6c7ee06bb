/**
 * JSON error answers with a stable code.
 *
 * @module
 */

/**
 * An error that is an HTTP answer: thrown by handlers and body readers,
 * turned into a JSON response `{"error": code, "detail": detail}` by the server.
 *
 * @example A JSON error response
 * ```ts
 * import { HttpError } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const response = new HttpError(404, "not_found", "No route for /x").toResponse();
 * equal(response.status, 404);
 * equal((await response.json()).error, "not_found");
 * ```
 */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** A stable, machine-readable error code. */
  readonly code: string;
  /** Extra response headers, e.g. `Allow` or `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>;

  /**
   * Makes the error.
   *
   * @param status The HTTP status.
   * @param code A stable, machine-readable error code.
   * @param detail A human-readable explanation (the error's message).
   * @param headers Extra response headers.
   */
  constructor(status: number, code: string, detail: string, headers: Record<string, string> = {}) {
    super(detail);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  /**
   * The JSON answer for this error.
   *
   * @returns A response with `content-type: application/json`.
   */
  toResponse(): Response {
    return Response.json({ error: this.code, detail: this.message }, {
      status: this.status,
      headers: this.headers,
    });
  }
}
