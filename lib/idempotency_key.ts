/**
 * `Idempotency-Key`: a request sent again with the same key is the same work.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";
import { sha256Hex } from "./_sha256.ts";

// Visible ASCII but the quote, the comma (two keys joined by a proxy) and the
// backslash (an escape inside a quoted string), 1 to 255 of them: Stripe's
// bare keys, and the IETF draft's structured-field strings ("…").
const KEY = /^(?:"([!#-+\--[\]-~]{1,255})"|([!#-+\--[\]-~]{1,255}))$/;

/**
 * The group id a request's `Idempotency-Key` names: a UUID version 8 made of
 * the SHA-256 of the method, the path and the key. The same key on the same
 * method and path always gives the same id, so the server knows a retry for
 * the work it accepted before; on another path it is other work. The key
 * itself is not shown (a client's key is no one else's business).
 *
 * The key is the header's value, bare (`Idempotency-Key: order-42`) or as a
 * structured-field string (`Idempotency-Key: "order-42"`, the IETF draft's
 * form): 1 to 255 visible ASCII characters, without quotes, commas or
 * backslashes.
 *
 * The hash is synchronous, 1.4 us a key (hash-wasm): `crypto.subtle.digest`
 * took 25 us (a trip to another thread and back) and had cut the rate of
 * keyed requests to less than half; `node:crypto`'s, as fast alone, cost
 * the server more per request (see `_sha256.ts`).
 *
 * @param request The request.
 * @returns The id, or `undefined` when the request has no key.
 * @throws {HttpError} 400 `invalid_idempotency_key` for a key that breaks
 * those rules, or two keys.
 *
 * @example One key, one group id
 * ```ts
 * import { idempotentGroupId } from "./mod.ts";
 * import { equal, match, notEqual } from "node:assert/strict";
 *
 * const post = (path: string, key: string) =>
 *   new Request(`http://x${path}`, { method: "POST", headers: { "idempotency-key": key } });
 * const id = idempotentGroupId(post("/send/ada", "order-42"));
 * match(id ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
 * equal(idempotentGroupId(post("/send/ada", '"order-42"')), id);
 * notEqual(idempotentGroupId(post("/send/bob", "order-42")), id);
 * equal(idempotentGroupId(new Request("http://x/send/ada")), undefined);
 * ```
 */
export function idempotentGroupId(request: Request): string | undefined {
  const header = request.headers.get("idempotency-key");
  if (header === null) return undefined;
  const match = KEY.exec(header);
  if (match === null) {
    throw new HttpError(
      400,
      "invalid_idempotency_key",
      "Idempotency-Key must be 1 to 255 visible ASCII characters, without quotes, commas or backslashes",
    );
  }
  const key = match[1] ?? match[2];
  const { pathname } = new URL(request.url);
  return uuid8(`${request.method} ${pathname}\n${key}`);
}

/**
 * The group id a key of yours names, for work submitted outside a request
 * (`App.submit`): a UUID version 8 of the key's SHA-256, as an
 * `Idempotency-Key`'s is (and never the same as a request's). Such a group
 * is kept in the journal once done, for `STATUS_RETENTION_MS`, so the key
 * submitted again in that time is refused with a `DuplicateGroupError`: a
 * follow-up a task submits with a key made from its own `id` is submitted
 * once, however often the task is retried or resumed.
 *
 * @param key Any text.
 * @returns The id.
 *
 * @example A task's follow-up, named by the task
 * ```ts
 * import { groupIdForKey, TaskGroup } from "./mod.ts";
 * import { equal, notEqual } from "node:assert/strict";
 *
 * const id = groupIdForKey("0192…/0 receipt");
 * equal(new TaskGroup({ id }).id, id);
 * equal(groupIdForKey("0192…/0 receipt"), id);
 * notEqual(groupIdForKey("0192…/1 receipt"), id);
 * ```
 */
export function groupIdForKey(key: string): string {
  // A request's text starts with its method: never a newline.
  return uuid8(`\n${key}`);
}

function uuid8(text: string): string {
  const hex = sha256Hex(text);
  // RFC 9562: version 8 (custom) in the 13th hex digit, the variant in the 17th.
  const variant = (8 | (parseInt(hex[16] as string, 16) & 3)).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${
    hex.slice(17, 20)
  }-${hex.slice(20, 32)}`;
}
