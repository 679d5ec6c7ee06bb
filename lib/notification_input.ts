/**
 * Validation of the notification endpoint's input, with zod.
 *
 * @module
 */
import { z } from "zod";
import { readBody, type ReadBodyOptions } from "./body.ts";
import { HttpError } from "./http_error.ts";

/**
 * The message used when the request has no body or no `message`.
 *
 * @example A request without a body
 * ```ts
 * import { DEFAULT_MESSAGE, parseMessage } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(await parseMessage(new Request("http://x/", { method: "POST" })), DEFAULT_MESSAGE);
 * ```
 */
export const DEFAULT_MESSAGE = "some notification";

const MAX_EMAIL = 254;
const EMAIL = z.email().max(MAX_EMAIL);
// An internationalized address (RFC 6531: jörg@exämple.de, as Gmail and
// pydantic's EmailStr take) has zod's shape, widened to other scripts: its
// local part may hold any non-ASCII character but controls, format characters
// (bidi overrides, zero-width) and separators, which could hide in a log line
// what the address says; its domain, letters, marks and digits (as IDNA does).
const WIDE = String.raw`[^\x00-\x7f\p{C}\p{Z}]`;
const LOCAL = String.raw`(?:[A-Za-z0-9_'+\-]|${WIDE})`;
const LOCAL_END = String.raw`(?:[A-Za-z0-9_+\-]|${WIDE})`;
const LABEL = String.raw`[\p{L}\p{N}][\p{L}\p{M}\p{N}\-]*`;
const WIDE_EMAIL = new RegExp(
  String.raw`^(?!\p{M})(?:${LOCAL}+\.)*${LOCAL}*${LOCAL_END}@(?:${LABEL}\.)+\p{L}[\p{L}\p{M}]+$`,
  "u",
);
const NON_ASCII = /[\u0080-\uffff]/;
const utf8 = new TextEncoder();
const BODY = z.strictObject({ message: z.string().max(1_000).optional() });
const decoder = new TextDecoder("utf-8", { fatal: true });

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid input";
  return issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`;
}

/**
 * Validates the email path parameter, as the router gives it: percent-decoded.
 *
 * @param email The address.
 * @returns The email address; an internationalized one (RFC 6531) in
 * Unicode's NFC form.
 * @throws {HttpError} 422 `invalid_email` if it is not an address, is over
 * 254 bytes of UTF-8, or holds control, format or separator characters.
 *
 * @example Taking and refusing
 * ```ts
 * import { parseEmail } from "./mod.ts";
 * import { equal, throws } from "node:assert/strict";
 *
 * equal(parseEmail("ada@example.com"), "ada@example.com");
 * equal(parseEmail("jo\u0308rg@exämple.de"), "jörg@exämple.de"); // "ö" sent decomposed
 * throws(() => parseEmail("ada@example.com\n"));
 * throws(() => parseEmail("ada\u202e@example.com")); // a bidi override
 * ```
 */
export function parseEmail(email: string): string {
  // Refused before the email pattern, whose cost grows with the length (a URL
  // may carry 64 KiB: ~5 ms of the event loop per request). Bytes are counted
  // once in NFC, which may join three characters into one of two bytes.
  if (email.length > MAX_EMAIL * 3) {
    throw new HttpError(422, "invalid_email", `Email is longer than ${MAX_EMAIL} bytes`);
  }
  if (NON_ASCII.test(email)) return parseWideEmail(email);
  const result = EMAIL.safeParse(email);
  if (!result.success) throw new HttpError(422, "invalid_email", firstIssue(result.error));
  return result.data;
}

function parseWideEmail(given: string): string {
  // One spelling per address: "ö" may arrive as o and a combining diaeresis.
  const email = given.normalize("NFC");
  if (utf8.encode(email).length > MAX_EMAIL) {
    throw new HttpError(422, "invalid_email", `Email is longer than ${MAX_EMAIL} bytes`);
  }
  if (!WIDE_EMAIL.test(email)) throw new HttpError(422, "invalid_email", "Invalid email address");
  return email;
}

function isJson(contentType: string): boolean {
  const mediaType = contentType.split(";", 1)[0]?.trim().toLowerCase();
  return mediaType === "application/json";
}

/**
 * Reads the optional JSON body `{"message": string}` (at most 1,000
 * characters; no other keys).
 *
 * @param request The request.
 * @param options Body size limit and read deadline.
 * @returns The message, or {@linkcode DEFAULT_MESSAGE} if there is no body;
 * synchronously when the request says it has none (GET, HEAD,
 * `Content-Length: 0`).
 * @throws {HttpError} 415 `unsupported_media_type` (also for a body with a
 * `Content-Encoding`, such as gzip), 413, 411, 408, 400
 * `invalid_body` (not UTF-8 JSON) or 422 `invalid_message`.
 *
 * @example A JSON message
 * ```ts
 * import { parseMessage } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const request = new Request("http://x/", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ message: "hi" }),
 * });
 * equal(await parseMessage(request), "hi");
 * ```
 */
export function parseMessage(
  request: Request,
  options: ReadBodyOptions = {},
): string | Promise<string> {
  if (request.method === "GET" || request.method === "HEAD") return DEFAULT_MESSAGE;
  if (request.headers.get("content-length") === "0") return DEFAULT_MESSAGE;
  const contentType = request.headers.get("content-type");
  const unsupported = (): HttpError =>
    new HttpError(415, "unsupported_media_type", "Request body must be application/json");
  if (contentType !== null && !isJson(contentType)) throw unsupported();
  return readBody(request, options).then((bytes) => {
    if (bytes.length === 0) return DEFAULT_MESSAGE;
    if (contentType === null) throw unsupported();
    // Looked at only once there is a body: most requests have none.
    const encoding = request.headers.get("content-encoding");
    if (encoding !== null && encoding.trim().toLowerCase() !== "identity") {
      // RFC 9110 §15.5.16: a content coding the server does not take is a 415,
      // naming in Accept-Encoding what it does take.
      throw new HttpError(
        415,
        "unsupported_media_type",
        `Request body must not be encoded (Content-Encoding: ${JSON.stringify(encoding)})`,
        { "accept-encoding": "identity" },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(bytes));
    } catch {
      throw new HttpError(400, "invalid_body", "Request body is not valid UTF-8 JSON");
    }
    const result = BODY.safeParse(json);
    if (!result.success) throw new HttpError(422, "invalid_message", firstIssue(result.error));
    return result.data.message ?? DEFAULT_MESSAGE;
  });
}
