import { deepEqual, equal, throws } from "node:assert/strict";
import { CONFIG_VARIABLES, readConfig } from "../lib/mod.ts";

Deno.test("readConfig() fills in the documented defaults", () => {
  deepEqual(readConfig(() => undefined), {
    port: 8000,
    hostname: "127.0.0.1",
    logFile: "log.txt",
    deadLetterFile: "dead-letter.jsonl",
    sendDelayMs: 0,
    maxConcurrency: 256,
    maxPending: 100_000,
    taskTimeoutMs: 30_000,
    taskRetries: 2,
    shutdownTimeoutMs: 30_000,
    bodyTimeoutMs: 10_000,
    statusRetentionMs: 600_000,
    statusRetentionCount: 10_000,
    taskStore: undefined,
    takeoverIntervalMs: 5_000,
    workers: Math.max(1, navigator.hardwareConcurrency - 1),
    reportWorkMs: 50,
    logLevel: "info",
    logFormat: "json",
  });
});

Deno.test("readConfig() reads every variable", () => {
  const env: Record<string, string> = {
    PORT: "0",
    SEND_DELAY_MS: "250",
    LOG_FORMAT: "pretty",
    TASK_RETRIES: "0",
  };
  const config = readConfig((name) => env[name]);
  deepEqual([config.port, config.sendDelayMs, config.logFormat, config.taskRetries], [
    0,
    250,
    "pretty",
    0,
  ]);
});

Deno.test("readConfig() listens on LISTEN_HOSTNAME, never on a container's HOSTNAME", () => {
  // Docker and Kubernetes export HOSTNAME as the container's or pod's name.
  const pod = (name: string) => name === "HOSTNAME" ? "mypod-7d9f" : undefined;
  equal(readConfig(pod).hostname, "127.0.0.1");
  equal(
    readConfig((name) => name === "LISTEN_HOSTNAME" ? "0.0.0.0" : pod(name)).hostname,
    "0.0.0.0",
  );
  equal(CONFIG_VARIABLES.includes("HOSTNAME"), false, "not even asked for");
});

Deno.test("readConfig() names every invalid variable", () => {
  const env: Record<string, string> = {
    PORT: "70000",
    MAX_CONCURRENCY: "0",
    LOG_LEVEL: "loud",
    TASK_TIMEOUT_MS: "1.5",
  };
  throws(() => readConfig((name) => env[name]), (error: Error) => {
    equal(error.name, "RangeError");
    for (const name of Object.keys(env)) equal(error.message.includes(name), true, name);
    return true;
  });
});

Deno.test("readConfig() reads numbers in decimal digits only: blanks, hex and exponents are refused", () => {
  // Before, Number() read " " as 0: SHUTDOWN_TIMEOUT_MS=" " abandoned every task at shutdown.
  for (const value of [" ", " 80", "0x10", "1e3", "0b11", "+5", "8000 ", "1.5"]) {
    throws(
      () => readConfig((name) => name === "SHUTDOWN_TIMEOUT_MS" ? value : undefined),
      /SHUTDOWN_TIMEOUT_MS \(".*"\): must be a whole number in decimal digits$/,
      JSON.stringify(value),
    );
  }
  equal(
    readConfig((name) => name === "SHUTDOWN_TIMEOUT_MS" ? "0" : undefined).shutdownTimeoutMs,
    0,
  );
  equal(
    readConfig((name) => name === "SHUTDOWN_TIMEOUT_MS" ? "" : undefined).shutdownTimeoutMs,
    30_000,
  );
  throws(() => readConfig((name) => name === "TASK_RETRIES" ? "-1" : undefined), /Too small/);
});

Deno.test("readConfig() reads LOG_LEVEL and LOG_FORMAT in any case, and warn as warning", () => {
  const read = (level: string, format = "") =>
    readConfig((name) =>
      ({ LOG_LEVEL: level, LOG_FORMAT: format } as Record<string, string>)[name]
    );
  // Before, LOG_LEVEL=WARN (or warn, or INFO) stopped the start.
  deepEqual([read("WARN").logLevel, read("warn").logLevel, read("Info").logLevel], [
    "warning",
    "warning",
    "info",
  ]);
  deepEqual([read("").logLevel, read("DEBUG", "PRETTY").logFormat], ["info", "pretty"]);
  throws(() => read("warns"), /LOG_LEVEL \("warns"\): Invalid option/);
  throws(() => read("info", "text"), /LOG_FORMAT/);
});

Deno.test("readConfig() refuses a wait longer than a timer keeps (it would fire at once)", () => {
  const waits = [
    "SEND_DELAY_MS",
    "TASK_TIMEOUT_MS",
    "SHUTDOWN_TIMEOUT_MS",
    "BODY_TIMEOUT_MS",
    "TAKEOVER_INTERVAL_MS",
  ];
  for (const name of waits) {
    throws(() => readConfig((v) => v === name ? "2147483648" : undefined), new RegExp(name));
    equal(readConfig((v) => v === name ? "2147483647" : undefined) !== undefined, true, name);
  }
});

Deno.test("readConfig() reads TASK_STORE as memory, a SQLite file or a PostgreSQL URL", () => {
  const store = (value: string) => readConfig((name) => name === "TASK_STORE" ? value : undefined);
  equal(store("memory").taskStore, undefined);
  deepEqual(store("sqlite:tasks.db").taskStore, { kind: "sqlite", file: "tasks.db" });
  const url = "postgres://posthaste@db:5432/posthaste";
  deepEqual(store(url).taskStore, { kind: "postgres", url });
  deepEqual(store("postgresql://db/x").taskStore, { kind: "postgres", url: "postgresql://db/x" });
  throws(() => store("mysql://db/x"), /TASK_STORE/);
  // Before: "Cannot open task journal \":memory:\": cannot open its WAL file: NotFound: …".
  throws(
    () => store("sqlite::memory:"),
    /TASK_STORE \("sqlite::memory:"\): an in-memory SQLite database keeps nothing through a restart/,
  );
  throws(() => store("mysql://ada:secret@db/x"), (error: Error) => {
    equal(error.message.includes("mysql://ada@db/x"), true, error.message);
    equal(error.message.includes("secret"), false);
    return true;
  });
});

Deno.test("deno.json's server permission set grants exactly the configuration variables (and libpq's PG*)", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  deepEqual(denoJson.permissions.server.env.toSorted(), [...CONFIG_VARIABLES, "PG*"].sort());
});
