import { deepEqual, equal, throws } from "node:assert/strict";
import { ResilientServer, type ServeFunction } from "../lib/mod.ts";
import { fakeClock, recordingLogger } from "./_helpers.ts";

/** A fake `Deno.serve`: each server's accept loop dies when the test says. */
function fakeServe() {
  const started: {
    options: Deno.ServeTcpOptions;
    handler: Deno.ServeHandler<Deno.NetAddr>;
    die: (error: Error) => void;
    shutdowns: number;
  }[] = [];
  const refusals: Error[] = []; // the next binds throw these
  const serve: ServeFunction = (options, handler) => {
    const refusal = refusals.shift();
    if (refusal) throw refusal;
    const finished = Promise.withResolvers<void>();
    const server = { options, handler, die: finished.reject, shutdowns: 0 };
    started.push(server);
    const addr = { transport: "tcp" as const, hostname: options.hostname!, port: 4321 };
    options.onListen?.(addr);
    return {
      addr,
      finished: finished.promise,
      shutdown() {
        server.shutdowns++;
        finished.resolve();
        return finished.promise;
      },
    };
  };
  return { serve, started, refusals };
}

const emfile = () => new Error("Too many open files (os error 24)");
const handler = () => new Response("ok");

Deno.test("ResilientServer: a dead accept loop is served again, a pause later, on the same address", async () => {
  const clock = fakeClock();
  const { logger, errors } = recordingLogger(1);
  const { serve, started } = fakeServe();
  const listened: Deno.NetAddr[] = [];
  const server = new ResilientServer(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: (addr) => void listened.push(addr),
      clock,
      logger,
      serve,
      reserveFiles: 0,
    },
    handler,
  );
  deepEqual([server.addr.port, listened.length], [4321, 1]);
  started[0]!.die(emfile());
  await clock.tickAsync(99);
  equal(started.length, 1, "not before the pause ends");
  await clock.tickAsync(1);
  equal(started.length, 2);
  const again = started[1]!;
  deepEqual(
    [again.options.hostname, again.options.port],
    ["127.0.0.1", 4321],
    "the bound port, not 0",
  );
  equal(again.handler, handler);
  equal(listened.length, 1, "onListen is for the first listener only");
  equal(server.failures.count, 1);
  deepEqual(errors.map((e) => [e.properties.failures, e.properties.error]), [
    [1, "Error: Too many open files (os error 24)"],
  ]);
});

Deno.test("ResilientServer: a bind that fails while serving again is tried again; failures are logged once a second", async () => {
  const clock = fakeClock();
  const errors: unknown[] = [];
  const infos: string[] = [];
  const logger = {
    info: (message: string) => void infos.push(message),
    warn() {},
    error: (_: string, properties: Record<string, unknown>) =>
      void errors.push(properties.failures),
  };
  const { serve, started, refusals } = fakeServe();
  const server = new ResilientServer({ clock, logger, serve, reserveFiles: 0 }, handler);
  refusals.push(emfile(), emfile());
  started[0]!.die(emfile());
  await clock.tickAsync(300); // two binds refused, the third binds
  equal(started.length, 2);
  equal(server.failures.count, 3);
  deepEqual(errors, [1], "the refused binds wait for the next report");
  deepEqual(infos, ["Accepting connections again"]);
  await clock.tickAsync(1_000);
  started[1]!.die(emfile());
  await clock.tickAsync(0);
  deepEqual(errors, [1, 3], "counted since the last report");
});

Deno.test("ResilientServer: shutdown stops serving again, and shuts the current listener down", async () => {
  const clock = fakeClock();
  const { serve, started } = fakeServe();
  const quiet = { clock, logger: recordingLogger(1).logger, serve, reserveFiles: 0 };
  const server = new ResilientServer(quiet, handler);
  started[0]!.die(emfile());
  await clock.tickAsync(0);
  await server.shutdown();
  await clock.tickAsync(1_000);
  equal(started.length, 1, "the waiting bind is cancelled");

  const other = new ResilientServer(quiet, handler);
  await other.shutdown();
  equal(started[1]!.shutdowns, 1);
  await clock.tickAsync(1_000);
  equal(started.length, 2, "a loop that ends at shutdown is not served again");
});

/** Reserve descriptors that count themselves; `full` makes opening one fail. */
function fakeReserve() {
  const reserve = { open: 0, full: false };
  const openReserve = () => {
    if (reserve.full) throw new Error("Too many open files");
    reserve.open++;
    return { close: () => void reserve.open-- };
  };
  return { reserve, openReserve };
}

Deno.test("ResilientServer: a reserve of descriptors is let go when a loop dies, and taken back before binding", async () => {
  const clock = fakeClock();
  const { serve, started } = fakeServe();
  const { reserve, openReserve } = fakeReserve();
  const heldWhenLogged: number[] = [];
  const logger = {
    info() {},
    warn() {},
    error: () => void heldWhenLogged.push(reserve.open),
  };
  const server = new ResilientServer(
    { clock, logger, serve, openReserve, reserveFiles: 3 },
    handler,
  );
  equal(reserve.open, 3);
  started[0]!.die(emfile());
  await clock.tickAsync(0);
  deepEqual([reserve.open, heldWhenLogged], [0, [0]], "let go before anything else");
  reserve.full = true; // the descriptors were taken meanwhile
  await clock.tickAsync(100);
  equal(started.length, 2, "binds all the same");
  reserve.full = false;
  started[1]!.die(emfile());
  await clock.tickAsync(100);
  equal(reserve.open, 3, "taken back before the next bind");
  await server.shutdown();
  equal(reserve.open, 0);
});

Deno.test("ResilientServer: a first bind that fails throws, as Deno.serve does, holding nothing", () => {
  const { serve, refusals } = fakeServe();
  const { reserve, openReserve } = fakeReserve();
  refusals.push(new Error("Address already in use"));
  throws(() => new ResilientServer({ serve, openReserve }, handler), /already in use/);
  equal(reserve.open, 0);
});

Deno.test("ResilientServer: serves real requests on Deno.serve", async () => {
  await using server = new ResilientServer({ hostname: "127.0.0.1", port: 0 }, handler);
  equal(await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "ok");
  equal(server.failures.count, 0);
});
