/**
 * Options for {@linkcode createApp} and {@linkcode App.shutdown}.
 *
 * @module
 */
/**
 * Options for {@linkcode App.shutdown}.
 *
 * @example Shutting down without waiting
 * ```ts
 * import { createApp, readConfig } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const env: Record<string, string> = { LOG_FILE: `${dir}/log.txt`, DEAD_LETTER_FILE: `${dir}/dl.jsonl` };
 * const app = await createApp(readConfig((name) => env[name]));
 * await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.handler);
 * // Given up at once: tasks still unfinished would be abandoned (there are none), the
 * // files are closed; the listener is left to its owner (main.ts exits the process).
 * equal(await app.shutdown(server, { signal: AbortSignal.abort() }), 0, "nothing was left");
 * ```
 */
export interface ShutdownOptions {
  /** Aborting it gives up waiting at once, as the deadline would (a second signal). */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode createApp}.
 *
 * @example Giving up starting
 * ```ts
 * import { createApp, readConfig } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * const signal = AbortSignal.abort(new Error("start-up took too long"));
 * await rejects(createApp(readConfig(() => undefined), { signal }), /took too long/);
 * ```
 */
export interface CreateAppOptions {
  /**
   * Gives up starting (a database that does not answer, a long recovery):
   * `createApp` rejects with its reason, as it does on any failure, after
   * closing what it had opened.
   */
  signal?: AbortSignal;
}
