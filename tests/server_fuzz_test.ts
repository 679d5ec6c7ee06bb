// Random requests against the real app on a real server: any method, paths
// built from emails, percent signs and stray segments, any body under any
// content type. Each answer is a known status; each error is the JSON of
// README's Errors table, its code matching its status; never a 500. A POST
// to a valid address gets what the Errors table says its body deserves.
// Every notification 202, and nothing else, puts its one line in the log,
// which reads back as the message sent: the test unescapes it itself. A
// request sent again with its Idempotency-Key is replayed with the first
// one's id, and logs nothing; sent with another query or body, it is 422.
import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_MESSAGE } from "../lib/mod.ts";
import { lines, startApp } from "./_helpers.ts";

/** The error codes each status may carry (README, Errors). */
const CODES: Record<number, string[]> = {
  400: ["invalid_body", "invalid_idempotency_key"],
  404: ["not_found"],
  405: ["method_not_allowed"],
  413: ["payload_too_large"],
  415: ["unsupported_media_type"],
  422: ["invalid_email", "invalid_message", "idempotency_key_reused"],
};

const word = fc.string({ unit: fc.constantFrom(..."abcxyz0189"), minLength: 1, maxLength: 8 });
/** Addresses that are valid for certain, plain or percent-encoded. */
const valid = fc.tuple(word, word).map(([user, host]) => `${user}@${host}.example`);
const VALID = /^[a-z0-9]+@[a-z0-9]+\.example$/;
// Characters a URL's path keeps as they are, "%" among them, so the segment
// the server decodes is the one sent.
const segment = fc.oneof(
  { weight: 3, arbitrary: valid },
  { weight: 1, arbitrary: valid.map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.emailAddress() },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.constantFrom(..."az09@.-_~%2e0AFz+!$&'()*,;=:"),
      maxLength: 30,
    }),
  },
);

const path = fc.oneof(
  { weight: 8, arbitrary: segment.map((s) => `/send-notification/${s}`) },
  // Paths that repeat, so that keys do.
  { weight: 3, arbitrary: fc.constantFrom("/send-notification/ada@x.example", "/reports") },
  { weight: 1, arbitrary: segment.map((s) => `/tasks/${s}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("/", "/healthz", "/metrics", "/reports", "/send-notification"),
  },
  { weight: 1, arbitrary: fc.array(segment, { maxLength: 4 }).map((s) => `/${s.join("/")}`) },
);

/** Message text rich in what must be escaped: newlines, controls, separators, bidi controls, backslashes. */
const message = fc.array(
  fc.oneof(
    fc.constantFrom(
      ..."\n \r \t \0 \x7f \x85 \u2028 \u2029 \u202e \u2067 \\ \\n".split(" "),
      '"',
    ),
    fc.string({ unit: "binary", minLength: 1, maxLength: 3 }),
  ),
  { maxLength: 12 },
).map((parts) => parts.join(""));

const body = fc.oneof(
  fc.constant(undefined),
  { weight: 3, arbitrary: message.map((message) => JSON.stringify({ message })) },
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom(
    JSON.stringify({ message: "x".repeat(1_000) }),
    JSON.stringify({ message: "x".repeat(1_001) }),
    JSON.stringify({ message: "y".repeat(17_000) }),
    '{"message": "a", "extra": 1}',
    "{}",
  ),
);

/** A few keys that repeat (one also quoted), and some the server must refuse. */
const key = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("k1", "k2", '"k1"', "order-42") },
    { weight: 1, arbitrary: fc.constantFrom("", "two words", "a,b", "x".repeat(256), '"k1') },
  ),
  { nil: undefined, freq: 2 },
);
const KEY = /^(?:"([!#-+\--[\]-~]{1,255})"|([!#-+\--[\]-~]{1,255}))$/;

const request = fc.record({
  key,
  method: fc.oneof(
    { weight: 6, arbitrary: fc.constant("POST") },
    { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH") },
  ),
  path,
  body,
  type: fc.constantFrom(
    undefined,
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json-seq",
    "text/plain",
  ),
});

/**
 * What a POST to a valid address deserves (README, Errors), and the message
 * a 202 logs.
 */
function deserved(bytes: Uint8Array, type: string | undefined): [number, string?] {
  if (bytes.length === 0) return [202, DEFAULT_MESSAGE];
  const json = type?.split(";")[0]?.trim().toLowerCase() === "application/json";
  if (type !== undefined && !json) return [415];
  if (bytes.length > 16 * 1024) return [413]; // read before a missing type is refused
  if (type === undefined) return [415];
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return [400];
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [422];
  const { message, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return [422];
  if (message === undefined) return [202, DEFAULT_MESSAGE];
  if (typeof message !== "string" || message.length > 1_000) return [422];
  return [202, message];
}

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Reverses the log's escaping (\n \r \t \\ \xHH \uHHHH), written here independently. */
function unescape(line: string): string {
  return line.replace(
    /\\(?:([nrt\\])|x([0-9a-f]{2})|u([0-9a-f]{4}))/g,
    (_, short, x, u) =>
      short
        ? { n: "\n", r: "\r", t: "\t", "\\": "\\" }[short as "n"]
        : String.fromCharCode(parseInt(x ?? u, 16)),
  );
}

Deno.test("server: random requests get a known status and JSON error, never a 500; each 202 logs one line", async () => {
  await using server = await startApp();
  const notified: string[] = [], reports: string[] = [];
  // Per key as the server names it: the first 202's id, and its query and body.
  const firstIds = new Map<string, string>();
  const firstContent = new Map<string, string>();
  const encoder = new TextEncoder();
  await fc.assert(
    fc.asyncProperty(request, async ({ method, path, body, type, key }) => {
      const bytes = typeof body === "string" ? encoder.encode(body) : body ?? new Uint8Array();
      const headers: Record<string, string> = {};
      if (type !== undefined) headers["content-type"] = type;
      if (key !== undefined) headers["idempotency-key"] = key;
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers,
        ...(method !== "GET" && body !== undefined && { body: bytes }),
      });
      const text = await response.text();
      const { status } = response;
      const segment = path.match(/^\/send-notification\/([^/]*)$/)?.[1];
      const email = segment === undefined ? undefined : decoded(segment);
      const keyMatch = key === undefined ? undefined : KEY.exec(key);
      // What the server keys: the method, the path as parsed, the unquoted key.
      const url = new URL(server.url + path);
      const named = keyMatch && `${method} ${url.pathname} ${keyMatch[1] ?? keyMatch[2]}`;
      const content = `${url.search} ${bytes.join(",")}`;
      let [want, message] = keyMatch === null ? [400] : deserved(bytes, type);
      if (want === 202 && named && (firstContent.get(named) ?? content) !== content) want = 422;
      // A certainly valid address gets what its key and body deserve.
      if (method === "POST" && email?.match(VALID)) equal(status, want, `${path} ${type}: ${text}`);
      if (status === 200) return;
      if (status === 202) {
        const { id } = JSON.parse(text);
        equal(response.headers.get("location"), `/tasks/${id}`);
        if (named) {
          const replayed = response.headers.get("idempotent-replayed") === "true";
          equal(replayed, firstIds.has(named), `replayed: ${named}`);
          if (replayed) return equal(id, firstIds.get(named));
          firstIds.set(named, id);
          firstContent.set(named, content);
        }
        if (path === "/reports") return void reports.push(`report ${id}`);
        // Any address the server took must have come with a body it should take.
        ok(email !== undefined && want === 202, `202 for ${path}`);
        notified.push(`notification for ${email}: ${message}`);
        return;
      }
      ok(status in CODES, `${method} ${path}: status ${status} ${text}`);
      equal(response.headers.get("content-type"), "application/json");
      const error = JSON.parse(text);
      ok(CODES[status]?.includes(error.error), `${status} with code ${error.error}`);
      equal(typeof error.detail, "string");
    }),
    { numRuns: 300 },
  );
  const found = lines(await server.logText());
  const reported = found.filter((line) => line.startsWith("report "));
  const logged = found.filter((line) => !line.startsWith("report "));
  // deno-lint-ignore no-control-regex -- the point: no raw control, separator or bidi control
  const raw = /[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]/;
  ok(logged.every((line) => !raw.test(line)), "escaped");
  deepEqual(
    logged.map(unescape).sort(),
    notified.map((line) => line.toWellFormed()).sort(),
    "one line per notification 202, reading back as sent",
  );
  deepEqual(reported.map((line) => line.split(":")[0]).sort(), reports.sort(), "one per report");
});
