// For scale in scenario 5: the durable reference, Deno KV's queue. A
// 202 is sent once `kv.enqueue` has committed the notification; the queue's
// listener appends its line through one handle. Needs --unstable-kv.
import { serveForLoad } from "./_serve.ts";

const logFile = Deno.env.get("LOG_FILE") ?? "kv-log.txt";
const dir = logFile.slice(0, logFile.lastIndexOf("/") + 1);
const kv = await Deno.openKv(`${dir}kv.sqlite3`);
const file = await Deno.open(logFile, { append: true, create: true });
const encoder = new TextEncoder();

interface Notification {
  email: string;
  message: string;
}
kv.listenQueue(async ({ email, message }: Notification) => {
  await file.write(encoder.encode(`notification for ${email}: ${message}\n`));
});
serveForLoad(async (request) => {
  const email = decodeURIComponent(new URL(request.url).pathname.split("/")[2] ?? "");
  await request.bytes();
  const id = crypto.randomUUID();
  await kv.enqueue({ email, message: "some notification" } satisfies Notification);
  return Response.json(
    { message: "Notification sent in the background", id },
    { status: 202, headers: { location: `/tasks/${id}` } },
  );
});
