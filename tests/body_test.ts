// Raw-socket tests: what a slow or oversized client gets.
import { equal, match, ok, rejects } from "node:assert/strict";
import { readBody } from "../lib/mod.ts";
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
});
