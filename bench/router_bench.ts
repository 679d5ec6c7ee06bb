// Route lookup: the URLPattern table against a hand-written pathname check.
import { matchRoute } from "../lib/mod.ts";
import { notificationRoutes } from "../lib/notification.ts";
import { route } from "../lib/router.ts";

const routes = [
  ...notificationRoutes({ log: { append: () => Promise.resolve() } }),
  route("GET", "/healthz", () => new Response()),
];
const request = new Request("http://127.0.0.1:8000/send-notification/foo@example.com", {
  method: "POST",
});

Deno.bench({
  name: "startsWith + slice (hand-written)",
  group: "route lookup",
  baseline: true,
  fn() {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith("/send-notification/")) return void pathname.slice(19);
  },
});

Deno.bench({
  name: "matchRoute over the URLPattern table",
  group: "route lookup",
  fn() {
    matchRoute(routes, request);
  },
});
