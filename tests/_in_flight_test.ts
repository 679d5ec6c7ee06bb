import { equal, rejects, throws } from "node:assert/strict";
import { InFlight } from "../lib/_in_flight.ts";

const info = {} as Deno.ServeHandlerInfo<Deno.NetAddr>;
const request = new Request("http://x/");

Deno.test("InFlight counts a request until it is answered, however it ends, and says when none is left", async () => {
  const requests = new InFlight();
  const gates = [Promise.withResolvers<Response>(), Promise.withResolvers<Response>()];
  let next = 0;
  const handler = requests.wrap((request) => {
    if (request.method === "GET") return new Response("at once");
    if (request.method === "PUT") throw new Error("handler bug");
    return gates[next++]!.promise;
  });
  await handler(request, info);
  throws(() => handler(new Request("http://x/", { method: "PUT" }), info), /handler bug/);
  equal(requests.count, 0);
  await requests.quiet(); // none in the handler: at once

  const post = () => handler(new Request("http://x/", { method: "POST" }), info);
  const [first, second] = [post(), post()];
  equal(requests.count, 2);
  let quiet = false;
  const waiting = requests.quiet().then(() => quiet = true);
  gates[0]!.resolve(new Response("later"));
  await first;
  equal([requests.count, quiet].join(), "1,false");
  gates[1]!.reject(new Error("failed"));
  await rejects(Promise.resolve(second), /failed/);
  await waiting;
  equal([requests.count, quiet].join(), "0,true");
});
