// Every bad request against a real server: status, stable code, JSON, and no effect.
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { escapeLine, parseEmail } from "../lib/mod.ts";
import { lines, startApp } from "./_helpers.ts";

const JSON_TYPE = { "content-type": "application/json" };

interface Row {
  name: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  status: number;
  error: string;
}

const rows: Row[] = [
  { name: "not an address", path: "/send-notification/nope", status: 422, error: "invalid_email" },
  {
    name: "over 254 characters",
    path: `/send-notification/${"a".repeat(250)}@example.com`,
    status: 422,
    error: "invalid_email",
  },
  {
    name: "a 60,000-character segment (refused before the email pattern runs)",
    path: `/send-notification/${"a".repeat(60_000)}@example.com`,
    status: 422,
    error: "invalid_email",
  },
  {
    name: "control character",
    path: "/send-notification/a%01b@example.com",
    status: 422,
    error: "invalid_email",
  },
  {
    name: "encoded CR LF",
    path: "/send-notification/a@example.com%0D%0Ax",
    status: 422,
    error: "invalid_email",
  },
  {
    name: "encoded NUL",
    path: "/send-notification/a@example.com%00",
    status: 422,
    error: "invalid_email",
  },
  {
    name: "bad percent-encoding",
    path: "/send-notification/a%E0%A4%A@example.com",
    status: 422,
    error: "invalid_email",
  },
  { name: "body not JSON", headers: JSON_TYPE, body: "{nope", status: 400, error: "invalid_body" },
  {
    name: "body not UTF-8",
    headers: JSON_TYPE,
    body: new Uint8Array([0x22, 0xff, 0x22]),
    status: 400,
    error: "invalid_body",
  },
  {
    name: "message not a string",
    headers: JSON_TYPE,
    body: '{"message":5}',
    status: 422,
    error: "invalid_message",
  },
  { name: "JSON array", headers: JSON_TYPE, body: "[]", status: 422, error: "invalid_message" },
  {
    name: "unknown key",
    headers: JSON_TYPE,
    body: '{"msg":"x"}',
    status: 422,
    error: "invalid_message",
  },
  {
    name: "message over 1,000 characters",
    headers: JSON_TYPE,
    body: JSON.stringify({ message: "m".repeat(1_001) }),
    status: 422,
    error: "invalid_message",
  },
  {
    name: "text/plain body",
    headers: { "content-type": "text/plain" },
    body: "hi",
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "gzip body (Content-Encoding)",
    headers: { ...JSON_TYPE, "content-encoding": "gzip" },
    body: new Blob(['{"message":"x"}']).stream().pipeThrough(new CompressionStream("gzip")),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "a coding that is not identity, even on plain bytes",
    headers: { ...JSON_TYPE, "content-encoding": "br" },
    body: '{"message":"x"}',
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "body without content type",
    body: new Blob(['{"message":"x"}']),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "body over 16 KiB",
    headers: JSON_TYPE,
    body: JSON.stringify({ message: "m".repeat(17_000) }),
    status: 413,
    error: "payload_too_large",
  },
  { name: "wrong method", method: "GET", status: 405, error: "method_not_allowed" },
  { name: "unknown path", path: "/nope", status: 404, error: "not_found" },
  { name: "dot-dot segment", path: "/send-notification/%2e%2e", status: 404, error: "not_found" },
];

Deno.test("bad requests get a JSON error with a stable code and change nothing", async (t) => {
  await using server = await startApp();
  for (const row of rows) {
    await t.step(row.name, async () => {
      const init: RequestInit = { method: row.method ?? "POST" };
      if (row.headers) init.headers = row.headers;
      if (row.body !== undefined) init.body = row.body;
      const response = await fetch(
        `${server.url}${row.path ?? "/send-notification/a@example.com"}`,
        init,
      );
      equal(response.status, row.status);
      equal(response.headers.get("content-type"), "application/json");
      const body = await response.json();
      deepEqual(Object.keys(body), ["error", "detail"]);
      equal(body.error, row.error);
      equal(typeof body.detail, "string");
      if (row.status === 405) equal(response.headers.get("allow"), "POST");
      if (row.headers?.["content-encoding"] !== undefined) {
        equal(response.headers.get("accept-encoding"), "identity");
      }
      equal(server.app.runner.pending, 0);
    });
  }
  equal(await server.logText(), "", "no rejected request wrote a line");
  equal(server.app.runner.stats.started, 0, "no rejected request added a task");
});

Deno.test("accepted requests are unaffected by rejected ones", async () => {
  await using server = await startApp();
  const good = (i: number) =>
    fetch(`${server.url}/send-notification/u${i}@example.com`, {
      method: "POST",
      headers: JSON_TYPE,
      body: JSON.stringify({ message: `m${i}` }),
    });
  const bad = () => fetch(`${server.url}/send-notification/nope`, { method: "POST" });
  const statuses = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      (i % 2 ? good(i) : bad()).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      })),
  );
  equal(statuses.filter((s) => s === 202).length, 20);
  equal(lines(await server.logText()).length, 20);
});

const wide = fc.string({
  unit: fc.constantFrom(..."aö用ड\u093eθ\u0308\u200b\u202e\u00a0é.-+"),
  minLength: 1,
  maxLength: 12,
});
/** Addresses in other scripts, valid or not: with marks, bidi and zero-width characters. */
const wideEmail = fc.tuple(wide, wide, fc.constantFrom("de", "भारत", "рф", "x"))
  .map(([local, domain, top]) => `${local}@${domain}.${top}`);

Deno.test("property: any email and message gives 202 or 4xx, and each 202 adds exactly one line", async () => {
  await using server = await startApp();
  const plainEmail = fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,20}$/), fc.domain())
    .map(([local, domain]) => `${local}@${domain}`);
  const email = fc.oneof(
    { arbitrary: plainEmail, weight: 3 },
    { arbitrary: fc.emailAddress(), weight: 1 },
    { arbitrary: fc.string({ unit: "binary", maxLength: 300 }), weight: 1 },
  ).filter((s) => s.isWellFormed());
  const message = fc.string({ unit: "binary", maxLength: 1_100 });
  const expected: string[] = [];
  await fc.assert(
    fc.asyncProperty(fc.oneof(email, wideEmail), message, async (email, message) => {
      const response = await fetch(`${server.url}/send-notification/${encodeURIComponent(email)}`, {
        method: "POST",
        headers: JSON_TYPE,
        body: JSON.stringify({ message }),
      });
      await response.body?.cancel();
      ok(
        response.status === 202 || (response.status >= 400 && response.status < 500),
        `${response.status}`,
      );
      if (response.status === 202) {
        const written = email.normalize("NFC");
        expected.push(`notification for ${escapeLine(written)}: ${escapeLine(message)}`);
      }
    }),
    { numRuns: 300 },
  );
  ok(expected.length > 50, `only ${expected.length} accepted`);
  deepEqual(lines(await server.logText()).sort(), expected.sort());
});

Deno.test("parseEmail() refuses an overlong address before its pattern runs; 254 characters pass", () => {
  throws(() => parseEmail("a".repeat(763)), /Email is longer than 254 bytes/);
  const local = "a".repeat(64);
  const domain = `${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(57)}.com`; // 254 in all
  const email = `${local}@${domain}`;
  equal(email.length, 254);
  equal(parseEmail(email), email);
  throws(() => parseEmail(`a${email}`), /expected string to have <=254 characters/);
});

Deno.test("POST /send-notification/{email} takes the address percent-encoded, every character of it", async () => {
  await using server = await startApp();
  const email = "jörg.ada@exämple.de";
  const encoded = [...new TextEncoder().encode(email)]
    .map((byte) => `%${byte.toString(16).padStart(2, "0")}`).join("");
  const response = await fetch(`${server.url}/send-notification/${encoded}`, { method: "POST" });
  equal(response.status, 202, await response.text());
  deepEqual(lines(await server.logText()), [`notification for ${email}: some notification`]);
});

Deno.test("parseEmail() takes internationalized addresses (RFC 6531), in NFC", () => {
  const accepted = [
    "jörg@exämple.de",
    "用户@例子.广告",
    "अजय@डाटा.भारत", // vowel signs are combining marks
    "θσερ@εχαμπλε.ψομ",
    "ö+tag.x@example.com",
    "ö@xn--exmple-cua.de",
    "☃@example.com", // a symbol: fine in the local part
  ];
  for (const email of accepted) equal(parseEmail(email), email, email);
  const composed = "jörg@example.de";
  equal(parseEmail(composed.normalize("NFD")), composed);
});

Deno.test("parseEmail() refuses characters that could hide what an address says", () => {
  const refused = {
    "a bidi override": "ada\u202e@example.com",
    "a zero-width space": "ad\u200ba@example.com",
    "a left-to-right mark": "ö\u200e@example.com",
    "a soft hyphen": "ö\u00ad@example.com",
    "a no-break space": "ö\u00a0x@example.com",
    "a C1 control (NEL)": "ö\u0085@example.com",
    "a line separator": "ö\u2028@example.com",
    "a private-use character": "ö\ue000@example.com",
    "an unassigned code point": "ö\u0378@example.com",
    "a leading combining mark": "\u0308ö@example.com",
    "a symbol in the domain": "ö@☃.com",
    "a domain without a dot": "ö@localhost",
    "a one-letter top-level domain": "ö@example.x",
    "a dot at the end of the local part": "ö.@example.com",
  };
  for (const [name, email] of Object.entries(refused)) {
    throws(() => parseEmail(email), /Invalid email address/, name);
  }
});

Deno.test("parseEmail() counts an internationalized address in bytes: 254 of UTF-8 pass, 255 do not", () => {
  const domain = "@example.com"; // 12 bytes
  const fits = `${"ö".repeat(121)}${domain}`; // 2 bytes each: 254
  equal(new TextEncoder().encode(fits).length, 254);
  equal(parseEmail(fits), fits);
  throws(() => parseEmail(`a${fits}`), /Email is longer than 254 bytes/);
});

Deno.test("a body with Content-Encoding: identity is read as it is", async () => {
  await using server = await startApp();
  const response = await fetch(`${server.url}/send-notification/a@example.com`, {
    method: "POST",
    headers: { ...JSON_TYPE, "content-encoding": "Identity" },
    body: '{"message":"plain"}',
  });
  await response.body?.cancel();
  equal(response.status, 202);
  await server.app.runner.idle();
  await server.app.log.flush();
  deepEqual(lines(await server.logText()), ["notification for a@example.com: plain"]);
});
