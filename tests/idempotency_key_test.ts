import { deepEqual, equal, match, notEqual, throws } from "node:assert/strict";
import { HttpError, idempotentGroupId } from "../lib/mod.ts";

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function keyed(key: string, url = "http://x/send/ada", method = "POST"): Request {
  return new Request(url, { method, headers: { "idempotency-key": key } });
}

Deno.test("idempotentGroupId: one key on one method and path is one UUIDv8, bare or quoted", () => {
  const id = idempotentGroupId(keyed("order-42"));
  match(id ?? "", UUID_V8);
  // Fixed for good: journals keep keyed groups by this id across restarts and upgrades.
  equal(id, "813c5f62-c6b9-8600-b38a-d4ebe2bd9fea");
  equal(idempotentGroupId(keyed("order-42")), id, "the same again");
  equal(idempotentGroupId(keyed('"order-42"')), id, "the IETF draft's quoted form");
  equal(idempotentGroupId(keyed("order-42", "http://x/send/ada?x=1")), id, "not the query");
  equal(idempotentGroupId(keyed("order-42", "http://y:8/send/ada")), id, "not the host");
  notEqual(idempotentGroupId(keyed("order-43")), id);
  notEqual(idempotentGroupId(keyed("order-42", "http://x/send/bob")), id, "another path");
  notEqual(idempotentGroupId(keyed("order-42", undefined, "PUT")), id, "another method");
  // The key is hashed, not shown: nothing of it is in the id.
  notEqual(idempotentGroupId(keyed("a")), idempotentGroupId(keyed("b")));
});

Deno.test("idempotentGroupId: no header is undefined", () => {
  equal(idempotentGroupId(new Request("http://x/send/ada", { method: "POST" })), undefined);
});

Deno.test("idempotentGroupId: keys of 1 to 255 visible ASCII characters pass; others are 400 invalid_idempotency_key", () => {
  const good = ["a", "x".repeat(255), "!#$%&'()*+-./0123456789:;<=>?@[]^_`{|}~", '"a-b"'];
  for (const key of good) match(idempotentGroupId(keyed(key)) ?? "", UUID_V8, key);
  const bad = [
    "x".repeat(256),
    '""',
    '"a',
    'a"',
    "a b", // a space
    "a,b", // two headers joined by a proxy
    '"a\\"b"',
    "a\\b",
    "caf\u00e9", // Latin-1: what Headers take beyond ASCII
    "a\tb",
  ];
  const refused: string[] = [];
  for (const key of bad) {
    throws(() => idempotentGroupId(keyed(key)), (error) => {
      if (!(error instanceof HttpError)) return false;
      refused.push(`${error.status} ${error.code}`);
      return true;
    }, key);
  }
  deepEqual(refused, bad.map(() => "400 invalid_idempotency_key"));
  // Leading and trailing blanks are no part of a header's value.
  equal(idempotentGroupId(keyed("  k  ")), idempotentGroupId(keyed("k")));
});
