// For scale: the naive way, one Deno.writeTextFile append per request in a setTimeout.
const log = Deno.env.get("LOG_FILE") ?? "naive-log.txt";
Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: ({ port }) => {
    Deno.stdout.writeSync(
      new TextEncoder().encode(`posthaste listening on http://127.0.0.1:${port}/\n`),
    );
  },
}, (request) => {
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
