// The baseline: bare Deno.serve answering the same JSON as posthaste, with no
// routing, validation or task. Prints its address like main.ts does.
const id = crypto.randomUUID();
const body = JSON.stringify({ message: "Notification sent in the background", id });
Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: ({ port }) => {
    Deno.stdout.writeSync(
      new TextEncoder().encode(`posthaste listening on http://127.0.0.1:${port}/\n`),
    );
  },
}, () => new Response(body, { status: 202, headers: { "content-type": "application/json" } }));
