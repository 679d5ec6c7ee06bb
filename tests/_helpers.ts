// Shared test helpers: temp files, a real server on port 0, a spawned
// `main.ts` process, and (from lib/testing.ts) the runner and fake clock.
import { configure, type LogRecord, reset } from "@logtape/logtape";
import {
  type App,
  createApp,
  defineTask,
  readConfig,
  type StoredTask,
  type StructuredLogger,
  type TaskOptions,
  type WriteTarget,
} from "../lib/mod.ts";

// The runner that drains within 5 s and the fake clock are the package's own.
export { type FakeClock, fakeClock, TestRunner } from "../lib/testing.ts";

/** A journaled task `send` of group `groupId`, its first, not yet tried, unless `fields` say otherwise. */
export function storedTask(groupId: string, fields: Partial<StoredTask> = {}): StoredTask {
  return {
    id: `${groupId}/0`,
    groupId,
    index: 0,
    name: "send",
    args: [],
    attempts: 0,
    nextAt: 0,
    crashes: 0,
    quarantined: false,
    ...fields,
  };
}

/** A target whose every write waits for the test to let it through: a stalled disk. */
export function stalledDisk() {
  const written: string[] = [];
  let arrived = Promise.withResolvers<void>();
  let release = Promise.withResolvers<void>();
  let stalls = true;
  const target: WriteTarget = {
    async write(p) {
      arrived.resolve();
      if (stalls) await release.promise;
      written.push(new TextDecoder().decode(p));
      return p.length;
    },
    close() {},
  };
  return {
    target,
    written,
    /** Resolves once a write waits: its batch was taken. */
    writing: () => arrived.promise,
    /** Lets the write that waits through; the next write stalls again. */
    release: () => {
      release.resolve();
      release = Promise.withResolvers<void>();
      arrived = Promise.withResolvers<void>();
    },
    /** The disk recovers: the write that waits and every later one go through. */
    recover: () => {
      stalls = false;
      release.resolve();
    },
  };
}

/** One turn of the event loop (a setImmediate): e.g. the group commit of the turn has run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A temp directory removed by `await using`. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "posthaste_test_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

export function lines(text: string): string[] {
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/** The app on a real `Deno.serve` at port 0, its files in a temp dir. */
export interface TestServer extends AsyncDisposable {
  app: App;
  url: string;
  dir: string;
  logText(): Promise<string>;
  /** Resolves when the next request enters the app's handler. */
  nextRequest(): Promise<void>;
}

export async function startApp(env: Record<string, string> = {}): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "posthaste_app_" });
  const vars: Record<string, string> = {
    LOG_FILE: `${dir}/log.txt`,
    DEAD_LETTER_FILE: `${dir}/dead-letter.jsonl`,
    ...env,
  };
  const app = await createApp(readConfig((name) => vars[name]));
  let arrivals: (() => void)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request, info) => {
    for (const arrived of arrivals) arrived();
    arrivals = [];
    return app.handler(request, info);
  });
  return {
    app,
    dir,
    nextRequest: () => new Promise((resolve) => arrivals.push(resolve)),
    url: `http://127.0.0.1:${server.addr.port}`,
    async logText() {
      await app.runner.idle();
      await app.log.flush();
      return await Deno.readTextFile(`${dir}/log.txt`);
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await app[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** `main.ts` running as a child process with exact permissions. */
export interface ServerProcess extends AsyncDisposable {
  url: string;
  child: Deno.ChildProcess;
  /** The exit code and everything the child wrote, once it exited. */
  status(): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Resolves once the child's stderr so far matches `pattern`; rejects after 60 s or at exit. */
  stderrMatches(pattern: RegExp): Promise<void>;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;
// Workers read their own scripts: the server may read exactly these.
const WORKER_MODULES = ["../lib/_worker_host.ts", "../lib/report_work.ts"]
  .map((path) => new URL(path, import.meta.url).pathname).join(",");
const ENV = [
  "PORT",
  "LISTEN_HOSTNAME",
  "LOG_FILE",
  "DEAD_LETTER_FILE",
  "SEND_DELAY_MS",
  "MAX_CONCURRENCY",
  "MAX_PENDING",
  "TASK_TIMEOUT_MS",
  "TASK_RETRIES",
  "SHUTDOWN_TIMEOUT_MS",
  "BODY_TIMEOUT_MS",
  "STATUS_RETENTION_MS",
  "STATUS_RETENTION_COUNT",
  "TASK_STORE",
  "WORKERS",
  "REPORT_WORK_MS",
  "LOG_LEVEL",
  "LOG_FORMAT",
  "TAKEOVER_INTERVAL_MS",
  "PG*",
];

/** The permissions process tests grant: loopback, the temp dir, the config variables. */
export function serverPermissions(dir: string): string[] {
  return [
    "--allow-net=127.0.0.1",
    `--allow-read=${dir},${WORKER_MODULES},/dev/null`,
    `--allow-write=${dir}`,
    `--allow-env=${ENV.join(",")}`,
  ];
}

/** How {@linkcode spawnMain} runs the server. */
export interface SpawnOptions {
  /** A compiled server to run instead of `deno run main.ts`. */
  binary?: string;
  /** A command to run instead (its program, then its arguments), in `cwd`. */
  command?: [string, ...string[]];
  /** The child's working directory. @default {this process's} */
  cwd?: string;
  /** The process's hard limit on open files (`ulimit -n`, through `sh`). */
  fileLimit?: number;
}

/** A child process's environment: its line files in `dir`, no colour in its logs, then `env`. */
export function childEnv(dir: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    LOG_FILE: `${dir}/log.txt`,
    DEAD_LETTER_FILE: `${dir}/dead-letter.jsonl`,
    NO_COLOR: "1",
    ...env,
  };
}

/** Spawns `main.ts` (or a compiled binary) with its files in `dir`; output piped. */
export function spawnMain(
  dir: string,
  env: Record<string, string>,
  { binary, command: given, cwd, fileLimit }: SpawnOptions = {},
): Deno.ChildProcess {
  const command = given ??
    (binary ? [binary] : [Deno.execPath(), "run", ...serverPermissions(dir), MAIN]);
  const limited = fileLimit === undefined
    ? command
    : ["sh", "-c", `ulimit -n ${fileLimit} && exec "$@"`, "sh", ...command];
  const [program, ...args] = limited as [string, ...string[]];
  return new Deno.Command(program, {
    args,
    env: childEnv(dir, { PORT: "0", ...env }),
    ...(cwd !== undefined && { cwd }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Spawns `main.ts` (or a compiled binary) with its files in `dir`, and waits until it listens. */
export async function spawnServer(
  dir: string,
  env: Record<string, string>,
  options: SpawnOptions = {},
): Promise<ServerProcess> {
  const child = spawnMain(dir, env, options);
  let stderrText = "";
  const stderrWaiters: { pattern: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const stderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderrText += chunk;
      for (const waiter of stderrWaiters.splice(0)) {
        if (waiter.pattern.test(stderrText)) waiter.resolve();
        else stderrWaiters.push(waiter);
      }
    }
    for (const { pattern, reject } of stderrWaiters.splice(0)) {
      reject(new Error(`Cannot match ${pattern} on stderr: the server exited\n${stderrText}`));
    }
    return stderrText;
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let url: string | undefined;
  // A guard, not a wait: a start that never ends fails the test instead of hanging it.
  let gaveUp = "";
  const guard = setTimeout(() => {
    gaveUp = ", killed: not listening after 60 s";
    child.kill("SIGKILL");
  }, 60_000);
  try {
    while (url === undefined) {
      const { done, value } = await reader.read();
      if (done) {
        const { code } = await child.status;
        throw new Error(
          `Cannot start server: it exited (code ${code}${gaveUp}) before listening\n${await stderr}`,
        );
      }
      seen += value;
      url = /listening on (http:\/\/\S+?)\/?\n/.exec(seen)?.[1];
    }
  } finally {
    clearTimeout(guard);
  }
  const rest = (async () => {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      seen += chunk.value;
    }
  })();
  const status = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
    const { code } = await child.status;
    await rest;
    return { code, stdout: seen, stderr: await stderr };
  };
  const stderrMatches = (pattern: RegExp): Promise<void> => {
    if (pattern.test(stderrText)) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    // A guard, not a wait: a server that never logs it fails the test instead of hanging it.
    const guard = setTimeout(
      () => reject(new Error(`Cannot match ${pattern} on stderr within 60 s\n${stderrText}`)),
      60_000,
    );
    const done = () => clearTimeout(guard);
    stderrWaiters.push({
      pattern,
      resolve: () => (done(), resolve()),
      reject: (error) => (done(), reject(error)),
    });
    return promise;
  };
  return {
    url,
    child,
    status,
    stderrMatches,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await status();
    },
  };
}

/** An error a {@linkcode recordingLogger} kept. */
export interface LoggedError {
  message: string;
  properties: Record<string, unknown>;
}

/** A logger that drops everything, for tests that read no log. */
export const quiet: StructuredLogger = { info() {}, warn() {}, error() {} };

/** A logger that keeps every message it is given, and its properties, whatever its level. */
export function keepingLogger(): StructuredLogger & {
  messages: string[];
  properties: Record<string, unknown>[];
} {
  const messages: string[] = [];
  const properties: Record<string, unknown>[] = [];
  const keep = (message: string, props: Record<string, unknown>) => {
    messages.push(message);
    properties.push(props);
  };
  return { messages, properties, info: keep, warn: keep, error: keep };
}

/** A logger that keeps its errors and resolves `enough` once it has `count` of them. */
export function recordingLogger(
  count: number,
): { logger: StructuredLogger; errors: LoggedError[]; enough: Promise<void> } {
  const errors: LoggedError[] = [];
  const enough = Promise.withResolvers<void>();
  const logger: StructuredLogger = {
    info() {},
    warn() {},
    error(message, properties) {
      if (errors.push({ message, properties }) === count) enough.resolve();
    },
  };
  return { logger, errors, enough: enough.promise };
}

/**
 * `promise`, or a rejection with `message` once `ms` of real time pass
 * first: a wait that fails the test rather than hang it.
 */
export async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let late: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    late = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(late);
  }
}

/**
 * Captures LogTape records at `info` and above (the server's default) for the
 * test's duration; `when(match)` resolves with the first that matches, kept or
 * to come within 30 s. `await using` resets LogTape.
 */
export async function captureLogs(): Promise<
  & { records: LogRecord[]; when(match: (record: LogRecord) => boolean): Promise<LogRecord> }
  & AsyncDisposable
> {
  const records: LogRecord[] = [];
  const waiting = new Set<(record: LogRecord) => void>();
  await configure({
    reset: true,
    sinks: {
      capture: (record) => {
        records.push(record);
        for (const waiter of waiting) waiter(record);
      },
    },
    loggers: [
      { category: ["posthaste"], lowestLevel: "info", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  const when = async (match: (record: LogRecord) => boolean) => {
    const kept = records.find(match);
    if (kept) return kept;
    const { promise, resolve } = Promise.withResolvers<LogRecord>();
    const waiter = (record: LogRecord) => {
      if (match(record)) resolve(record);
    };
    waiting.add(waiter);
    try {
      return await within(promise, 30_000, "Cannot see the log record: none in 30 s");
    } finally {
      waiting.delete(waiter);
    }
  };
  return { records, when, [Symbol.asyncDispose]: () => reset() };
}

/** A raw TCP connection to a test server, for what `fetch` cannot send. */
export function connectRaw(url: string): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(url).port) });
}

/** Reads a response's status line and headers from a raw connection. */
export async function readHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

/** POSTs a notification for each email; resolves with the statuses. */
export async function post(url: string, emails: string[]): Promise<number[]> {
  return await Promise.all(emails.map(async (email) => {
    const response = await fetch(`${url}/send-notification/${email}`, { method: "POST" });
    await response.body?.cancel();
    return response.status;
  }));
}

/** `count` distinct emails. */
export const emails = (count: number, prefix = "user"): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}@example.com`);

/** How many lines of the notification log each email has. */
export function counts(log: string): Map<string, number> {
  const seen = new Map<string, number>();
  for (const line of lines(log)) {
    const email = /^notification for (\S+): /.exec(line)?.[1] ?? line;
    seen.set(email, (seen.get(email) ?? 0) + 1);
  }
  return seen;
}

/**
 * A task of `name` whose every run waits for the test to end it; `running`
 * and `most` count the runs under way across every runner that runs it.
 */
export function gatedTask(name: string, options: TaskOptions) {
  const started: string[] = [];
  const gates = new Map<string, PromiseWithResolvers<void>>();
  let starting = Promise.withResolvers<void>();
  const counts = { running: 0, most: 0 };
  const task = defineTask(name, async function (label: string) {
    started.push(label);
    counts.most = Math.max(counts.most, ++counts.running);
    const gate = Promise.withResolvers<void>();
    gates.set(label, gate);
    starting.resolve();
    starting = Promise.withResolvers();
    try {
      await gate.promise;
    } finally {
      counts.running--;
    }
  }, options);
  return {
    task,
    started,
    counts,
    /** Ends the run of `label` (rejects it with `error`, if given). */
    end: (label: string, error?: Error) =>
      error ? gates.get(label)?.reject(error) : gates.get(label)?.resolve(),
    /** Resolves once the next run starts. */
    nextStart: () => starting.promise,
  };
}
