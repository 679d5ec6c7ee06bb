// deno-lint-ignore-file no-console -- a command-line probe that reports on stdout
// Probe: sends request headers one byte per second to a running server and
// reports whether (and when) the server closes the connection or answers.
//   deno run --allow-net=127.0.0.1 bench/slowloris.ts 8000
const port = Number(Deno.args[0] ?? 8000);
const conn = await Deno.connect({ hostname: "127.0.0.1", port });
const request = "POST /send-notification/a@example.com HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
  `x-padding: ${"a".repeat(70)}\r\n\r\n`;
const start = performance.now();
let closedAt: number | undefined;
const answer = (async () => {
  const buffer = new Uint8Array(1024);
  try {
    const n = await conn.read(buffer);
    return n === null ? "EOF" : new TextDecoder().decode(buffer.subarray(0, n)).split("\r\n")[0];
  } catch (error) {
    return String(error);
  } finally {
    closedAt = performance.now();
  }
})();
let sent = 0;
for (const byte of new TextEncoder().encode(request)) {
  if (closedAt !== undefined) break;
  await conn.write(new Uint8Array([byte]));
  sent++;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}
const seconds = (at: number): number => Math.round((at - start) / 1_000);
console.log(JSON.stringify({
  sentBytes: sent,
  ofBytes: request.length,
  seconds: seconds(performance.now()),
  serverAnswer: await Promise.race([
    answer,
    new Promise((r) => setTimeout(() => r("none"), 3_000)),
  ]),
  answeredAfterSeconds: closedAt === undefined ? null : seconds(closedAt),
}));
conn.close();
