/**
 * `Deno.serve`, served again when its accept loop dies.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, systemClock } from "./clock.ts";
import { IntervalGate } from "./_interval_gate.ts";
import type { StructuredLogger } from "./logging.ts";

/**
 * What {@linkcode ResilientServer} needs of a server: `Deno.serve`'s.
 *
 * @example Watching each listener start
 * ```ts
 * import { ResilientServer, type ServeFunction } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * let listeners = 0;
 * const serve: ServeFunction = (options, handler) => (listeners++, Deno.serve(options, handler));
 * const options = { hostname: "127.0.0.1", port: 0, serve };
 * await using _server = new ResilientServer(options, () => new Response("hi"));
 * equal(listeners, 1);
 * ```
 */
export type ServeFunction = (
  options: Deno.ServeTcpOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
) => Pick<Deno.HttpServer<Deno.NetAddr>, "addr" | "finished" | "shutdown">;

/**
 * Options for {@linkcode ResilientServer}.
 *
 * @example A quick retry, and no descriptors held in reserve
 * ```ts
 * import { ResilientServer, type ResilientServerOptions } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * const options: ResilientServerOptions = { hostname: "127.0.0.1", port: 0, pauseMs: 10, reserveFiles: 0 };
 * await using server = new ResilientServer(options, () => new Response("hi"));
 * ok(server.addr.port > 0, "port 0 picks a free one");
 * ```
 */
export interface ResilientServerOptions {
  /** The interface to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** The port; 0 picks a free one, kept when serving again. @default {8000} */
  port?: number;
  /** Called once the first listener is bound (not when serving again). @default {logs nothing} */
  onListen?: (addr: Deno.NetAddr) => void;
  /** Milliseconds between a dead accept loop and serving again. @default {100} */
  pauseMs?: number;
  /** Time, the pause's timer, and the logs' pace. @default {systemClock} */
  clock?: Pick<Clock, "now" | "setTimeout" | "clearTimeout">;
  /** Where failures and recoveries go (each at most one line a second). @default {LogTape's ["posthaste", "server"]} */
  logger?: StructuredLogger;
  /**
   * Descriptors held in reserve and let go the moment an accept loop dies,
   * so that what the process must do then (log, commit, read a source map)
   * finds some free: with none, Deno 2.9.6 panicked. @default {16}
   */
  reserveFiles?: number;
  /**
   * Opens one reserve descriptor.
   * @default {opens /dev/null for reading, if that read is granted (else no reserve)}
   */
  openReserve?: () => { close(): void };
  /** Starts a server. @default {Deno.serve} */
  serve?: ServeFunction;
}

function openDevNull(): { close(): void } {
  // Never a permission prompt: without the grant, there is no reserve.
  const read = Deno.permissions.querySync({ name: "read", path: "/dev/null" });
  if (read.state !== "granted") throw new Error("Cannot hold a reserve: /dev/null is not readable");
  return Deno.openSync("/dev/null");
}

/**
 * An HTTP server that outlives its accept loop. Deno's ends for good at the
 * first failed accept: out of file descriptors (a burst of connections past
 * the hard `ulimit -n`), its `finished` rejects "Too many open files" and
 * the port closes, while the process, and every task it accepted, goes on
 * unreachable (or it exits, once idle). This serves the same handler on the
 * same address again a pause later, until a listener binds, and counts the
 * failures. Requests in flight on the old one are answered as before. It
 * holds a few descriptors in reserve and lets them go when a loop dies, so
 * that the process is not left with none (Deno 2.9.6 could then panic).
 *
 * @example Serving, then shutting down
 * ```ts
 * import { ResilientServer } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const server = new ResilientServer({ hostname: "127.0.0.1", port: 0 }, () => new Response("hi"));
 * equal(await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "hi");
 * await server.shutdown();
 * equal(server.failures.count, 0);
 * ```
 */
export class ResilientServer implements AsyncDisposable {
  /** The bound address (port 0 resolved); every listener after the first takes it too. */
  readonly addr: Deno.NetAddr;
  readonly #failures = { count: 0 };
  readonly #handler: Deno.ServeHandler<Deno.NetAddr>;
  readonly #serve: ServeFunction;
  readonly #pauseMs: number;
  readonly #clock: Pick<Clock, "setTimeout" | "clearTimeout">;
  readonly #logger: StructuredLogger;
  readonly #reports: IntervalGate;
  readonly #recoveries: IntervalGate;
  readonly #reserveFiles: number;
  readonly #openReserve: () => { close(): void };
  #reserve: { close(): void }[] = [];
  #server: ReturnType<ServeFunction> | undefined;
  #timer: unknown;
  #stopping = false;

  /**
   * Binds and serves; a failure to bind this first time throws, as `Deno.serve` does.
   *
   * @param options Where to listen, and how to serve again.
   * @param handler Answers each request.
   */
  constructor(options: ResilientServerOptions, handler: Deno.ServeHandler<Deno.NetAddr>) {
    const { hostname = "0.0.0.0", port = 8000, onListen = () => {} } = options;
    const { pauseMs = 100, clock = systemClock, serve = Deno.serve } = options;
    const { reserveFiles = 16, openReserve = openDevNull } = options;
    this.#reserveFiles = reserveFiles;
    this.#openReserve = openReserve;
    this.#handler = handler;
    this.#serve = serve;
    this.#pauseMs = pauseMs;
    this.#clock = clock;
    this.#logger = options.logger ?? getLogger(["posthaste", "server"]);
    this.#reports = new IntervalGate(1_000, clock);
    this.#recoveries = new IntervalGate(1_000, clock);
    this.#holdReserve();
    let server: ReturnType<ServeFunction>;
    try {
      server = serve({ hostname, port, onListen }, handler);
    } catch (error) {
      this.#releaseReserve();
      throw error;
    }
    this.addr = server.addr;
    this.#watch(server);
  }

  /** Accept loops that died, and binds that failed while serving again. */
  get failures(): { readonly count: number } {
    return this.#failures;
  }

  /** Stops listening, and resolves once the requests in flight are answered. */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    this.#clock.clearTimeout(this.#timer);
    this.#releaseReserve();
    await this.#server?.shutdown();
  }

  /** Same as {@linkcode ResilientServer.shutdown}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #watch(server: ReturnType<ServeFunction>): void {
    this.#server = server;
    server.finished.then(() => this.#ended(server), (error) => this.#ended(server, error));
  }

  #ended(server: ReturnType<ServeFunction>, error?: unknown): void {
    if (this.#stopping || server !== this.#server) return;
    this.#server = undefined;
    this.#failed(error ?? new Error("the accept loop ended"));
  }

  #failed(error: unknown): void {
    this.#releaseReserve();
    this.#failures.count++;
    const failures = this.#reports.tally();
    if (failures !== undefined) {
      const { hostname, port } = this.addr;
      // The message, not the stack: with no descriptor free, source-mapping
      // a stack made Deno 2.9.6 panic (stacker cannot read /proc/self/maps).
      this.#logger.error(
        "Cannot accept connections on {hostname}:{port}, serving again every {pauseMs} ms: {error} ({failures} failures since the last report)",
        { hostname, port, pauseMs: this.#pauseMs, error: String(error), failures },
      );
    }
    this.#timer = this.#clock.setTimeout(() => this.#serveAgain(), this.#pauseMs);
  }

  #serveAgain(): void {
    this.#timer = undefined;
    const { hostname, port } = this.addr;
    const onListen = () => {
      if (this.#recoveries.due()) {
        this.#logger.info("Accepting connections again", { hostname, port });
      }
    };
    this.#holdReserve();
    try {
      this.#watch(this.#serve({ hostname, port, onListen }, this.#handler));
    } catch (error) {
      // Binding needs a descriptor too.
      this.#failed(error);
    }
  }

  #holdReserve(): void {
    try {
      while (this.#reserve.length < this.#reserveFiles) this.#reserve.push(this.#openReserve());
    } catch {
      // Still out of descriptors, or not allowed: hold what could be opened.
    }
  }

  #releaseReserve(): void {
    for (const file of this.#reserve.splice(0)) file.close();
  }
}
