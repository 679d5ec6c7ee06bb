/**
 * What the load benchmark (`bench/load.ts`) drives its servers with: starting
 * one pinned to a core, running `wrk` pinned to the other, and reading the
 * results (medians, log lines, resident memory).
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
/** The Python that runs `bench/fastapi_server.py`: Debian's, where its packages go. */
const PYTHON = Deno.env.get("LOAD_PYTHON") ?? "/usr/bin/python3";

/** Whether {@linkcode PYTHON} has FastAPI and uvicorn (Debian: python3-fastapi, python3-uvicorn). */
export async function hasFastApi(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(PYTHON, {
      args: ["-c", "import fastapi, uvicorn"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false; // no such Python
  }
}

/** A server started by {@linkcode startServer}. */
export interface Server {
  url: string;
  pid: number;
  dir: string;
  /** Ends it (by default at once) and removes its directory. */
  stop(signal?: Deno.Signal): Promise<void>;
}

/** One wrk run: rate, latency percentiles in ms, counts. */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

/** Options for {@linkcode startServer}. */
export interface StartOptions {
  /** The server's environment; "{dir}" in a value is its directory. @default {{}} */
  env?: Record<string, string>;
  /** The cores it is pinned to (`taskset -c`). @default {"0"} */
  cores?: string;
  /** More flags for `deno run`. @default {[]} */
  flags?: string[];
  /** Its directory, kept when it stops: for a server started again on the same files. @default {a new temp dir, removed when it stops} */
  dir?: string;
}

/**
 * Starts `script` (a Deno server, or a Python one with {@linkcode PYTHON})
 * pinned to `options.cores`, in a directory of its own (its log and dead
 * letters go there), and resolves once it prints its address.
 */
export async function startServer(script: string, options: StartOptions = {}): Promise<Server> {
  const { env = {}, cores = "0", flags = [] } = options;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "posthaste_load_" });
  const command = script.endsWith(".py") ? [PYTHON, `${ROOT}${script}`] : [
    Deno.execPath(),
    "run",
    // As `deno task start` runs the server (see README: tuning).
    "--v8-flags=--max-semi-space-size=4,--no-allocation-site-pretenuring",
    "--allow-net=127.0.0.1",
    `--allow-read=${dir},${ROOT}lib/_worker_host.ts,${ROOT}lib/report_work.ts,/dev/null`,
    `--allow-write=${dir}`,
    "--allow-env",
    ...flags,
    `${ROOT}${script}`,
  ];
  const child = new Deno.Command("taskset", {
    args: ["-c", cores, ...command],
    env: {
      PORT: "0",
      LOG_FILE: `${dir}/log.txt`,
      DEAD_LETTER_FILE: `${dir}/dl.jsonl`,
      // "{dir}" in a value is the server's own temp dir, the one it may write.
      ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replaceAll("{dir}", dir)])),
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read all along (a full pipe would hold the server's log lines); its tail
  // says why a server that exited before listening did.
  const errors = lastLine(child.stderr);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let url: string | undefined;
  while (url === undefined) {
    const { done, value } = await reader.read();
    if (done) {
      const why = await errors;
      throw new Error(`Cannot start ${script}: it exited${why ? `: ${why}` : ""}`);
    }
    seen += value;
    url = /listening on (http:\/\/\S+?)\/?\n/.exec(seen)?.[1];
  }
  void (async () => {
    while (!(await reader.read()).done);
  })();
  return {
    url,
    pid: child.pid,
    dir,
    async stop(signal: Deno.Signal = "SIGKILL") {
      try {
        child.kill(signal);
      } catch {
        // It has exited already (a drain that ended before a later kill).
      }
      await child.status;
      if (options.dir === undefined) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The last line of a stream's text, once it ends. */
async function lastLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  let tail = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    tail = (tail + text).slice(-4_096);
  }
  return tail.trim().split("\n").at(-1) ?? "";
}

/** A wrk latency such as `850.00us`, `1.93ms` or `1.02s`, in milliseconds. */
function ms(text: string): number {
  const match = /([\d.]+)(us|ms|s)/.exec(text);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1_000 : match[2] === "s" ? value * 1_000 : value;
}

/** Runs `wrk -t1 -c64 --latency` with `bench/post.lua` on core 1. */
export async function wrk(url: string, seconds: number): Promise<WrkResult> {
  const { stdout } = await new Deno.Command("taskset", {
    args: [
      "-c",
      "1",
      "wrk",
      "-t1",
      "-c64",
      `-d${seconds}s`,
      "--latency",
      "-s",
      `${ROOT}bench/post.lua`,
      url,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(stdout);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]),
    // Anchored: a "+/- Stdev" column such as "83.50%" must not match.
    p50: ms(/^\s*50%\s+(\S+)/m.exec(text)?.[1] ?? ""),
    p99: ms(/^\s*99%\s+(\S+)/m.exec(text)?.[1] ?? ""),
    requests: Number(/(\d+) requests in/.exec(text)?.[1]),
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
  };
}

// A run whose wrk output did not parse (NaN) is left out, not sorted into the middle.
export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function lineCount(path: string): Promise<number> {
  try {
    const bytes = await Deno.readFile(path);
    let count = 0;
    for (const byte of bytes) if (byte === 10) count++;
    return count;
  } catch {
    return 0;
  }
}

/** Milliseconds until the log holds at least `lines` lines (polled: this is a benchmark). */
export async function waitForLines(path: string, lines: number, limitMs = 60_000): Promise<number> {
  const start = performance.now();
  while ((await lineCount(path)) < lines) {
    if (performance.now() - start > limitMs) return Infinity;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - start;
}

/** A server's log, followed run by run; see {@linkcode followLog}. */
export interface FollowedLog {
  /**
   * Milliseconds from the end of `result`'s run until every task it saw
   * accepted has its line in the log (Infinity if not within the limit).
   */
  drained(result: WrkResult): Promise<number>;
}

/**
 * Follows `server`'s log, once `warmUp`'s tasks are all in it, so that each
 * measured run starts with none of the warm-up's pending.
 */
export async function followLog(
  server: Server,
  warmUp: (server: Server) => Promise<number>,
  limitMs = 60_000,
): Promise<FollowedLog> {
  const path = `${server.dir}/log.txt`;
  let logged = await warmUp(server);
  await waitForLines(path, logged, limitMs);
  return {
    drained(result) {
      logged += result.requests - result.errors;
      return waitForLines(path, logged, limitMs);
    },
  };
}

/**
 * Tasks a second that a run, `seconds` long, put in the log: its accepted
 * tasks over the time from its start until the last one's line was there
 * (`drainedMs` after it ended; 0 if never).
 */
export function deliveredRate(result: WrkResult, seconds: number, drainedMs: number): number {
  return (result.requests - result.errors) / (seconds + drainedMs / 1_000);
}

/** Resident memory of process `pid`, in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  // `ps`, because Deno grants /proc only with --allow-all.
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  })
    .output();
  return Number(new TextDecoder().decode(stdout).trim());
}

/** POSTs `count` notifications, `concurrency` at a time; resolves to how many got 202. */
export async function postMany(url: string, count: number, concurrency = 64): Promise<number> {
  let next = 0, accepted = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const response = await fetch(`${url}/send-notification/mem${i}@example.com`, {
        method: "POST",
      });
      await response.body?.cancel();
      if (response.status === 202) accepted++;
    }
  }));
  return accepted;
}

/** Requests a second that a wrk run saw answered 2xx: those refused (503) do not count. */
export function acceptedRate(result: WrkResult): number {
  return result.rps * (1 - result.errors / Math.max(1, result.requests));
}

/**
 * The p99 latency in ms of `GET {url}/healthz` over 2 s. A modest-rate probe,
 * not a flood: one GET every 5 ms, sent on schedule whether or not earlier
 * ones answered (open loop), so a stalled event loop shows in every request
 * that waited on it.
 */
export async function healthP99(url: string): Promise<number> {
  const probes: Promise<number>[] = [];
  const until = performance.now() + 2_000;
  while (performance.now() < until) {
    const start = performance.now();
    probes.push(
      fetch(`${url}/healthz`).then(async (response) => {
        await response.body?.cancel();
        return performance.now() - start;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const latencies = (await Promise.all(probes)).sort((a, b) => a - b);
  return latencies[Math.floor(latencies.length * 0.99)] ?? NaN;
}
