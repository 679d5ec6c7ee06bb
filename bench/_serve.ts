// How the load script's comparison servers listen: on $PORT at 127.0.0.1,
// printing their address as main.ts does, which is how load.ts knows they are
// up. Plain Deno.serve, so the baseline stays free of posthaste's code.

/** Serves `handler` on `$PORT` (0: any) and announces the address on stdout. */
export function serveForLoad(handler: Deno.ServeHandler): Deno.HttpServer {
  return Deno.serve({
    hostname: "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 0),
    onListen: ({ port }) => {
      Deno.stdout.writeSync(
        new TextEncoder().encode(`posthaste listening on http://127.0.0.1:${port}/\n`),
      );
    },
  }, handler);
}
