// The permissions a configuration needs (the listening address, the line
// files, a SQLite journal and its -wal and -journal files, a PostgreSQL
// database's hosts), asked for before anything opens, so that every one
// missing is named at once with the flag that grants it: Deno's own error
// names one path, and suggests the whole flag. Internal to runServer and
// runReplay (through processConfig).
import { configuredFiles } from "./_distinct_files.ts";
import { isStandardOutput } from "./_log_files.ts";
import type { Config } from "./config.ts";
import { serverUrl } from "./server_url.ts";

type Kind = "net" | "read" | "write";

const granted = (descriptor: Deno.PermissionDescriptor): boolean =>
  Deno.permissions.querySync(descriptor).state === "granted";

/**
 * Throws if the process may not do what `config` asks of it.
 *
 * @param config The configuration.
 * @param options `listens: false` for a process that serves nothing.
 * @throws {Error} `Cannot start: no net access to 127.0.0.1:9000; …`, with
 * the flags that grant what is missing.
 */
export function checkGrants(config: Config, { listens = true } = {}): void {
  const missing: Record<Kind, string[]> = { net: [], read: [], write: [] };
  const { hostname, port, taskStore } = config;
  if (listens) {
    // serverUrl's `host:port`, an IPv6 address in brackets.
    const host = serverUrl({ transport: "tcp", hostname, port }).slice("http://".length, -1);
    if (!granted({ name: "net", host })) missing.net.push(host);
  }
  const files = configuredFiles(config).map(([, path]) => path)
    .filter((path) => !isStandardOutput(path));
  const databases = taskStore?.kind === "postgres" ? databaseHosts(taskStore.url) : [];
  for (const host of databases) if (!granted({ name: "net", host })) missing.net.push(host);
  for (const path of files) {
    if (!granted({ name: "read", path })) missing.read.push(path);
    if (!granted({ name: "write", path })) missing.write.push(path);
  }
  const kinds = (Object.keys(missing) as Kind[]).filter((kind) => missing[kind].length > 0);
  if (kinds.length === 0) return;
  const what = kinds.map((kind) => `no ${kind} access to ${missing[kind].join(", ")}`);
  const flags = kinds.map((kind) => `--allow-${kind}=${missing[kind].join(",")}`);
  throw new Error(
    `Cannot start: ${what.join("; ")}; grant it (${
      flags.join(" ")
    }): beside -P=server, such a flag replaces that kind's list in the set, so give the set's other entries of the kind too`,
  );
}

/**
 * `host:port` of each host a PostgreSQL URL names (the driver takes a list,
 * `h1:5432,h2:5432`, to fail over); none where it finds the host elsewhere
 * (`?host=` a socket, PGHOST).
 */
function databaseHosts(url: string): string[] {
  const [, hosts = "", query = ""] = /^[a-z]+:\/\/(?:[^@/?#]*@)?([^/?#]*)[^?#]*(\?[^#]*)?/i
    .exec(url) ?? [];
  if (hosts === "" || new URLSearchParams(query).has("host")) return [];
  let defaultPort = "5432";
  try {
    defaultPort = Deno.env.get("PGPORT") || defaultPort; // as the driver reads it
  } catch {
    // Not readable: the driver cannot read it either.
  }
  return hosts.split(",").map((host) => /:\d+$/.test(host) ? host : `${host}:${defaultPort}`);
}
