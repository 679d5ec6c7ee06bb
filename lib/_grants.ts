// The permissions a configuration needs (the listening address, the line
// files, a SQLite journal and its -wal and -journal files, a PostgreSQL
// database's host), asked for before
// anything opens, so that every one missing is named at once with the flag
// that grants it: Deno's own error names one path, and suggests the whole
// flag. Internal to runServer.
import { isStandardOutput } from "./_log_files.ts";
import type { Config } from "./config.ts";

type Kind = "net" | "read" | "write";

const granted = (descriptor: Deno.PermissionDescriptor): boolean =>
  Deno.permissions.querySync(descriptor).state === "granted";

/**
 * Throws if the process may not do what `config` asks of it.
 *
 * @throws {Error} `Cannot start: no net access to 127.0.0.1:9000; …`, with
 * the flags that grant what is missing.
 */
export function checkGrants(config: Config): void {
  const missing: Record<Kind, string[]> = { net: [], read: [], write: [] };
  const { hostname, port, logFile, deadLetterFile, taskStore } = config;
  const host = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  if (!granted({ name: "net", host })) missing.net.push(host);
  const files = [logFile, deadLetterFile].filter((path) => !isStandardOutput(path));
  if (taskStore?.kind === "sqlite") {
    const { file } = taskStore;
    files.push(file, `${file}-wal`, `${file}-journal`);
  }
  const database = taskStore?.kind === "postgres" && databaseHost(taskStore.url);
  if (database && !granted({ name: "net", host: database })) missing.net.push(database);
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
 * `host:port` of a PostgreSQL URL, or undefined where the driver finds the
 * host elsewhere (`?host=` a socket, PGHOST, several hosts): left to it.
 */
function databaseHost(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.hostname === "" || parsed.searchParams.has("host")) return undefined;
  let port = parsed.port;
  try {
    port ||= Deno.env.get("PGPORT") ?? "";
  } catch {
    // PGPORT not readable: the driver cannot read it either.
  }
  return `${parsed.hostname}:${port || "5432"}`;
}
