import { equal } from "node:assert/strict";
import { serverUrl } from "../lib/mod.ts";

Deno.test("serverUrl: an IPv6 address is bracketed, and the URL parses back to it", () => {
  for (const hostname of ["::1", "::", "fe80::1", "2001:db8::8a2e:370:7334"]) {
    const url = new URL(serverUrl({ transport: "tcp", hostname, port: 8000 }));
    equal(url.hostname, `[${hostname}]`);
    equal(url.port, "8000");
  }
});

Deno.test("serverUrl: IPv4 addresses and names as they are", () => {
  equal(serverUrl({ transport: "tcp", hostname: "0.0.0.0", port: 80 }), "http://0.0.0.0:80/");
  equal(serverUrl({ transport: "tcp", hostname: "localhost", port: 1 }), "http://localhost:1/");
});
