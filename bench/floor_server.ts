// For scale: the least a server keeping the demo's contract does per request,
// without posthaste's machinery (no runner, validation, escaping, status or
// metrics, no limit on the body): find the email in the path, read the body
// whole (a request without Content-Length may still carry one over HTTP/2),
// answer the 202 JSON with its Location, and hand the line to one append
// handle, a write per turn.
import { serveForLoad } from "./_serve.ts";

const encoder = new TextEncoder();
const file = await Deno.open(Deno.env.get("LOG_FILE") ?? "floor-log.txt", {
  append: true,
  create: true,
});
let lines: string[] = [];
const flush = (): void => {
  const data = encoder.encode(lines.join(""));
  lines = [];
  void file.write(data);
};
serveForLoad(async (request) => {
  const email = decodeURIComponent(new URL(request.url).pathname.split("/")[2] ?? "");
  await request.bytes();
  const id = crypto.randomUUID();
  if (lines.push(`notification for ${email}: some notification\n`) === 1) setTimeout(flush);
  return Response.json(
    { message: "Notification sent in the background", id },
    { status: 202, headers: { location: `/tasks/${id}` } },
  );
});
