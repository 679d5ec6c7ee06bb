// For scale: the naive way, one Deno.writeTextFile append per request in a setTimeout.
import { serveForLoad } from "./_serve.ts";

const log = Deno.env.get("LOG_FILE") ?? "naive-log.txt";
serveForLoad((request) => {
  const email = decodeURIComponent(new URL(request.url).pathname.split("/")[2] ?? "");
  setTimeout(() => {
    void Deno.writeTextFile(log, `notification for ${email}: some notification\n`, {
      append: true,
    });
  });
  return Response.json(
    { message: "Notification sent in the background", id: crypto.randomUUID() },
    {
      status: 202,
    },
  );
});
