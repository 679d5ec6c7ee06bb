// The baseline: bare Deno.serve answering the same JSON as posthaste, with no
// routing, validation or task.
import { serveForLoad } from "./_serve.ts";

const id = crypto.randomUUID();
const body = JSON.stringify({ message: "Notification sent in the background", id });
serveForLoad(() =>
  new Response(body, { status: 202, headers: { "content-type": "application/json" } })
);
