/**
 * The URL a server listens on, as it prints it.
 *
 * @module
 */

/**
 * The `http://` URL of a listening address; an IPv6 address goes in brackets
 * (`http://[::1]:8000/`), without which the URL would not parse.
 *
 * @param addr The address `Deno.serve` reports to `onListen`.
 * @returns The URL, ending in `/`.
 *
 * @example An IPv4 and an IPv6 address
 * ```ts
 * import { serverUrl } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(serverUrl({ transport: "tcp", hostname: "127.0.0.1", port: 8000 }), "http://127.0.0.1:8000/");
 * equal(serverUrl({ transport: "tcp", hostname: "::1", port: 8000 }), "http://[::1]:8000/");
 * ```
 */
export function serverUrl(addr: Deno.NetAddr): string {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return `http://${host}:${addr.port}/`;
}
