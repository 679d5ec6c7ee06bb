// Raw-socket tests: what a slow or oversized client gets.
import { equal, match, ok, rejects } from "node:assert/strict";
import http2 from "node:http2";
import { type HttpError, readBody } from "../lib/mod.ts";
import { connectRaw, readHead, startApp } from "./_helpers.ts";

const encoder = new TextEncoder();

Deno.test("a chunked body over 16 KiB is answered 413 before it is complete", async () => {
  await using server = await startApp();
  const conn = await connectRaw(server.url);
  try {
    await conn.write(encoder.encode(
      "POST /send-notification/a@example.com HTTP/1.1\r\nhost: x\r\n" +
        "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
    ));
    const chunk = "x".repeat(4096);
    for (let i = 0; i < 5; i++) {
      await conn.write(encoder.encode(`${chunk.length.toString(16)}\r\n${chunk}\r\n`));
    }
    // The terminating chunk is never sent: the answer must not wait for it.
    const head = await readHead(conn);
    match(head, /^HTTP\/1\.1 413 /);
    match(head, /content-type: application\/json/i);
  } finally {
    conn.close();
  }
  equal(await server.logText(), "");
});

Deno.test("a body sent too slowly is answered 408", async () => {
  await using server = await startApp({ BODY_TIMEOUT_MS: "200" });
  const conn = await connectRaw(server.url);
  try {
    await conn.write(encoder.encode(
      "POST /send-notification/a@example.com HTTP/1.1\r\nhost: x\r\n" +
        "content-type: application/json\r\ncontent-length: 40\r\n\r\n{",
    ));
    // The other 39 bytes never come.
    match(await readHead(conn), /^HTTP\/1\.1 408 /);
  } finally {
    conn.close();
  }
  equal(await server.logText(), "");
});

Deno.test("readBody({ signal }) cancels the body and rejects with the reason at the abort", async () => {
  let cancelled: unknown;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode("{"));
    },
    cancel(reason) {
      cancelled = reason ?? "cancelled";
    },
  });
  const request = new Request("http://x/", { method: "POST", body });
  const controller = new AbortController();
  const reading = readBody(request, { signal: controller.signal });
  controller.abort(new Error("client gone"));
  await rejects(reading, /client gone/);
  ok(cancelled !== undefined, "the body stream was cancelled");
  const aborted = new Request("http://x/", { method: "POST", body: "x" });
  await rejects(readBody(aborted, { signal: AbortSignal.abort(new Error("early")) }), /early/);
  // A body read whole (its length is known) stops waiting at the abort too.
  const framed = new Request("http://x/", {
    method: "POST",
    headers: { host: "x", "content-length": "5" },
    body: new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(encoder.encode("{")) }),
  });
  const stopping = new AbortController();
  const waiting = readBody(framed, { signal: stopping.signal });
  stopping.abort(new Error("gone too"));
  await rejects(waiting, /gone too/);
});

// HTTP/2 over cleartext, as Deno.serve speaks it: one request whose body is
// sent in two parts, the second only once `release` settles (never, if it
// does not), so the body is still streaming when the handler reads it.
async function h2Post(
  url: string,
  headers: Record<string, string>,
  parts: [string, string],
  release: Promise<unknown>,
): Promise<{ status: number; body: string }> {
  const session = http2.connect(url);
  const closed = new Promise((resolve) => session.once("close", resolve));
  try {
    const stream = session.request({ ":method": "POST", ...headers });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      let status = 0;
      let body = "";
      stream.setEncoding("utf8");
      stream.on("response", (head) => status = Number(head[":status"]));
      stream.on("data", (chunk: string) => body += chunk);
      stream.on("end", () => resolve({ status, body }));
      stream.on("error", reject);
    });
    stream.write(parts[0]);
    void release.then(() => stream.end(parts[1]));
    return await answer;
  } finally {
    session.close();
    await closed;
  }
}

const path = "/send-notification/a@example.com";
const json = { "content-type": "application/json" };

Deno.test("an HTTP/1.1 POST with neither Content-Length nor Transfer-Encoding has no body", async () => {
  await using server = await startApp();
  const conn = await connectRaw(server.url);
  try {
    await conn.write(encoder.encode(`POST ${path} HTTP/1.1\r\nhost: x\r\n\r\n`));
    match(await readHead(conn), /^HTTP\/1\.1 202 /);
  } finally {
    conn.close();
  }
  equal(await server.logText(), "notification for a@example.com: some notification\n");
});

Deno.test("an HTTP/2 body streamed without Content-Length is read to its end", async () => {
  await using server = await startApp();
  const { status } = await h2Post(
    server.url,
    { ":path": path, ...json },
    ['{"message":', '"streamed"}'],
    server.nextRequest(),
  );
  equal(status, 202);
  equal(await server.logText(), "notification for a@example.com: streamed\n");
});

Deno.test("an HTTP/2 body with a Content-Length is read whole, however it arrives", async () => {
  await using server = await startApp();
  const body = '{"message":"counted"}';
  const { status } = await h2Post(
    server.url,
    { ":path": path, ...json, "content-length": String(body.length) },
    [body.slice(0, 5), body.slice(5)],
    server.nextRequest(),
  );
  equal(status, 202);
  equal(await server.logText(), "notification for a@example.com: counted\n");
});

Deno.test("an HTTP/2 body streamed after a Host header without Content-Length is answered 411", async () => {
  await using server = await startApp();
  const never = Promise.withResolvers<void>();
  const { status, body } = await h2Post(
    server.url,
    { ":path": path, host: "x", ...json },
    ['{"message":', '"late"}'],
    never.promise,
  );
  equal(status, 411);
  equal(JSON.parse(body).error, "length_required");
  equal(await server.logText(), "");
});

Deno.test("readBody refuses an in-process request whose body outgrows its Content-Length", async () => {
  const request = new Request("http://x/", {
    method: "POST",
    headers: { "content-length": "5" },
    body: "x".repeat(20_000),
  });
  await rejects(readBody(request), (error: HttpError) => error.status === 413);
  const exact = new Request("http://x/", { method: "POST", headers: { host: "x" }, body: "hello" });
  equal((await readBody(exact)).length, 5);
});

Deno.test("an HTTP/2 body over the limit with a Host header and no Content-Length is refused", async () => {
  await using server = await startApp();
  const big = JSON.stringify({ message: "x".repeat(20_000) });
  const { status, body } = await h2Post(
    server.url,
    { ":path": path, host: "x", ...json },
    [big, ""],
    Promise.resolve(),
  );
  // 413 if it arrived whole before the handler read it, 411 if still streaming.
  ok(status === 413 || status === 411, `status ${status}`);
  ok(["payload_too_large", "length_required"].includes(JSON.parse(body).error));
  equal(await server.logText(), "");
});

Deno.test("an HTTP/2 body longer than its Content-Length is cut off by Deno, not read on", async () => {
  await using server = await startApp();
  const answer = h2Post(
    server.url,
    { ":path": path, ...json, "content-length": "5" },
    ["x".repeat(20_000), ""],
    Promise.resolve(),
  );
  // The HTTP/2 layer resets the stream; no 202 comes back.
  const status = await answer.then(({ status }) => status, () => "reset");
  ok(status !== 202, `status ${status}`);
  equal(await server.logText(), "");
});
