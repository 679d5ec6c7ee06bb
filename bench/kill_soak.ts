// deno-lint-ignore-file no-console -- a command-line soak that reports on stdout
/**
 * The crash soak: a server under load is killed, started again on the same
 * journal and killed again, `SOAK_CYCLES` times (default 10); then one last
 * start runs what is left. Every notification answered 202 must have its line
 * in the log, or a dead letter; a line twice is allowed only for a task that
 * was running (its outcome not yet committed) when its server was killed.
 *
 * Run: `deno task soak`. Settings:
 * - SOAK_STORE: `sqlite:{dir}/tasks.db` by default; a PostgreSQL URL (its
 *   schema must exist), or `memory`.
 * - SOAK_SIGNAL: SIGKILL by default; SIGTERM stops each server with a drain;
 *   SIGTERM,SIGKILL cuts the drain short with a kill within 300 ms, as an
 *   orchestrator's grace period would.
 * - SOAK_KEYED=1: each request has its address as its `Idempotency-Key`, and
 *   one the kill cut off is sent again to the next server.
 * - SOAK_PEER=1 (PostgreSQL): a second server on the same queue stays up
 *   throughout, for half the clients, and it, not a last start, must run what
 *   the killed servers left.
 * - SOAK_MAX_PENDING: the killed servers' `MAX_PENDING`s, in turn, as
 *   `5000,300`: a start with a lower one than the last finds more work than
 *   fits, and the rest waits in the journal for room (deferred work).
 * - SOAK_PEER_MAX_PENDING: the peer's `MAX_PENDING`: set low, what it adopts
 *   does not fit, and waits in the queue for room (deferred work).
 * - SOAK_DELAY_MS: the task's delay, default 0.
 * - SOAK_TIMEOUT_MS: every server's `TASK_TIMEOUT_MS`; below the delay, each
 *   attempt times out and is retried, so that every task must end in the
 *   dead letters, its attempts counted across the kills.
 * - SOAK_MESSAGE_BYTES: each notification's message, this many characters
 *   (at most 1,000) rather than the default: long lines make every batch
 *   span pages, so that a kill tears one more often (Linux stops a write at a
 *   page boundary on SIGKILL).
 * - SOAK_REPORTS: so many more clients queue a report (`POST /reports`, a
 *   task run in the worker pool, `REPORT_WORK_MS=5`) every 20 ms; each
 *   report answered 202 must have its line too.
 * - SOAK_ROTATE_MS: every this many milliseconds, the log is renamed away
 *   (`log.txt.1`, …), as logrotate does, and every other time the server is
 *   sent SIGUSR2; the other times its watch of the path finds it.
 *
 * Exits 1 if an answered task has neither its line nor a dead letter, if
 * more lines are written twice than kills allow, or if a line or letter ran
 * into another (a torn one may stand alone: the kill cut it off).
 *
 * @module
 */
import { type Server, startServer } from "./_load_tools.ts";
import { tally } from "./_soak_tally.ts";

const CYCLES = Number(Deno.env.get("SOAK_CYCLES") ?? 10);
const DELAY_MS = Deno.env.get("SOAK_DELAY_MS") ?? "0";
const SIGNAL = Deno.env.get("SOAK_SIGNAL") ?? "SIGKILL";
if (!["SIGKILL", "SIGTERM", "SIGTERM,SIGKILL"].includes(SIGNAL)) {
  throw new TypeError(
    `Cannot soak: SOAK_SIGNAL must be SIGKILL, SIGTERM or SIGTERM,SIGKILL, got ${SIGNAL}`,
  );
}
const KEYED = Deno.env.get("SOAK_KEYED") === "1";
const ROTATE_MS = Number(Deno.env.get("SOAK_ROTATE_MS") ?? 0);
const MESSAGE = "m".repeat(Number(Deno.env.get("SOAK_MESSAGE_BYTES") ?? 0)) || "some notification";
const PEER = Deno.env.get("SOAK_PEER") === "1";
const PEER_MAX_PENDING = Deno.env.get("SOAK_PEER_MAX_PENDING");
const CLIENTS = 32;
/** How long the last server may take to run what is left, before the soak gives up. */
const LIMIT_MS = 120_000;
/** The default `MAX_CONCURRENCY`: at most this many tasks run at a kill. */
const RUNNING_AT_A_KILL = 256;

const dir = await Deno.makeTempDir({ prefix: "posthaste_soak_" });
const store = Deno.env.get("SOAK_STORE") ?? "sqlite:{dir}/tasks.db";
/** Servers' `MAX_PENDING`s, in turn (SOAK_MAX_PENDING); the last start's is the default. */
const maxPendings = Deno.env.get("SOAK_MAX_PENDING")?.split(",") ?? [];
const TIMEOUT_MS = Deno.env.get("SOAK_TIMEOUT_MS");
const REPORTS = Number(Deno.env.get("SOAK_REPORTS") ?? 0);
/** What every server is given. */
const common = {
  TASK_STORE: store,
  ...TIMEOUT_MS && { TASK_TIMEOUT_MS: TIMEOUT_MS },
  ...REPORTS && { REPORT_WORK_MS: "5" },
};
const start = (delayMs: string, maxPending?: string): Promise<Server> =>
  startServer("main.ts", {
    dir,
    env: { ...common, SEND_DELAY_MS: delayMs, ...maxPending && { MAX_PENDING: maxPending } },
  });

/** Stops a server as SOAK_SIGNAL says. */
async function stop(server: Server): Promise<void> {
  if (SIGNAL !== "SIGTERM,SIGKILL") return await server.stop(SIGNAL as Deno.Signal);
  Deno.kill(server.pid, "SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
  await server.stop("SIGKILL"); // unless the drain ended first
}

/** The addresses answered 202. */
const accepted = new Set<string>();
/**
 * This run's mark in every address: a PostgreSQL queue outlives a run, and
 * an earlier run's key would be answered as a replay, with no line here.
 */
const RUN = Date.now().toString(36);
/** Keyed: the addresses whose request got no answer, to send again. */
const owed: string[] = [];
/** Keyed: every address sent more than once. */
const resent = new Set<string>();
let sent = 0, replayed = 0;

/** POSTs one notification; resolves to its status, 0 if the server was gone. */
async function post(url: string, email: string): Promise<number> {
  try {
    const response = await fetch(`${url}/send-notification/${email}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...KEYED && { "idempotency-key": email } },
      body: JSON.stringify({ message: MESSAGE }),
    });
    await response.body?.cancel();
    if (response.status === 202) accepted.add(email);
    if (response.headers.has("idempotent-replayed")) replayed++;
    return response.status;
  } catch {
    return 0; // killed with this request on its way
  }
}

/** Whether `until` has resolved, asked in a loop. */
function ended(until: Promise<void>): () => boolean {
  let done = false;
  until.then(() => done = true);
  return () => done;
}

let rotations = 0;
/** Renames the log away every ROTATE_MS until `until` resolves, signalling every other time. */
async function rotate(server: Server, until: Promise<void>): Promise<void> {
  const stopped = ended(until);
  while (ROTATE_MS > 0 && !stopped()) {
    await new Promise((resolve) => setTimeout(resolve, ROTATE_MS));
    if (stopped()) return;
    const renamed = await Deno.rename(`${dir}/log.txt`, `${dir}/log.txt.${++rotations}`)
      .then(() => true, () => false); // not made again yet
    if (!renamed || rotations % 2 === 1) continue;
    try {
      Deno.kill(server.pid, "SIGUSR2");
    } catch {
      return; // killed meanwhile
    }
  }
}

/** Report ids answered 202 (in `accepted` too). */
let reports = 0;
/** Queues a report every 20 ms until `until` resolves or the server drains (503). */
async function reporter(url: string, until: Promise<void>): Promise<void> {
  const stopped = ended(until);
  while (!stopped()) {
    try {
      const response = await fetch(`${url}/reports`, { method: "POST" });
      const { id } = await response.json();
      if (response.status === 503) return;
      if (response.status === 202) {
        accepted.add(id);
        reports++;
      }
    } catch {
      // killed with this request on its way
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends notifications, one at a time, until `until` resolves or the server drains (503). */
async function client(url: string, until: Promise<void>): Promise<void> {
  const stopped = ended(until);
  while (!stopped()) {
    const email = (KEYED && owed.pop()) || `soak${sent++}.${RUN}@example.com`;
    const status = await post(url, email);
    // Unanswered, or refused: keyed, it is sent again; unkeyed, no 202 means nothing owed.
    if (status !== 202 && KEYED) {
      owed.push(email);
      resent.add(email);
    }
    if (status === 503) return;
  }
}

const began = performance.now();
const peer = PEER
  ? await startServer("main.ts", {
    dir: await Deno.makeTempDir({ dir, prefix: "peer_" }),
    env: {
      ...common,
      SEND_DELAY_MS: DELAY_MS,
      TAKEOVER_INTERVAL_MS: "1000",
      ...PEER_MAX_PENDING && { MAX_PENDING: PEER_MAX_PENDING },
    },
  })
  : undefined;
for (let cycle = 1; cycle <= CYCLES; cycle++) {
  const server = await start(DELAY_MS, maxPendings[(cycle - 1) % maxPendings.length]);
  // Killed at a random moment, 0.3 to 1.5 s into the load.
  const killed = new Promise<void>((resolve) => setTimeout(resolve, 300 + Math.random() * 1_200))
    .then(() => stop(server));
  const url = (i: number) => peer && i % 2 ? peer.url : server.url;
  await Promise.all([
    killed,
    rotate(server, killed),
    ...Array.from({ length: CLIENTS }, (_, i) => client(url(i), killed)),
    ...Array.from({ length: REPORTS }, () => reporter(server.url, killed)),
  ]);
  console.log(`cycle ${cycle}: ${SIGNAL}; ${accepted.size} answered 202 so far`);
}

// The last start (or the peer) runs what the killed servers left, then drains on SIGTERM.
// Timing out, each attempt still does: every task must end in the dead letters.
const last = peer ?? await start(TIMEOUT_MS ? DELAY_MS : "0");
for (let email = owed.pop(); email !== undefined; email = owed.pop()) await post(last.url, email);
const dirs = [dir, ...peer ? [peer.dir] : []];
let counted = await tally(dirs, { message: MESSAGE, run: RUN });
const missing = (): string[] =>
  [...accepted].filter((key) => !counted.lines.has(key) && !counted.letters.has(key));
const deadline = performance.now() + LIMIT_MS;
while (missing().length > 0 && performance.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 100)); // polled: this is a soak, not a test
  counted = await tally(dirs, { message: MESSAGE, run: RUN });
}
await last.stop("SIGTERM");
await Deno.remove(dir, { recursive: true });

const lost = missing();
const { lines, letters, letterLines, torn, joined } = counted;
const twice = [...lines.values()].filter((count) => count > 1).length;
const resentTwice = [...resent].filter((email) => (lines.get(email) ?? 0) > 1).length;
// A drained server finished what it ran; a killed one may run a task again.
const allowedTwice = SIGNAL === "SIGTERM" ? 0 : CYCLES * RUNNING_AT_A_KILL;
const unanswered = [...lines.keys()].filter((email) => !accepted.has(email)).length;
console.log(
  `\nsummary: ${CYCLES} × ${SIGNAL} in ${((performance.now() - began) / 1_000).toFixed(0)} s; ` +
    `${accepted.size} answered 202${REPORTS ? ` (${reports} reports)` : ""}, ` +
    `${lost.length} of them neither written nor dead-lettered; ` +
    `${twice} written twice (at most ${allowedTwice} allowed); ` +
    `${unanswered} written whose 202 the kill cut off; ${replayed} replayed; ` +
    (KEYED ? `${resent.size} sent again, ${resentTwice} of them written twice; ` : "") +
    `${letters.size} dead letters (${
      [...new Set(letters.values())].join(", ") || "none"
    }), of which ${
      [...letters.keys()].filter((email) => !lines.has(email)).length
    } never written, ` +
    `${letterLines - letters.size} written twice; ` +
    `${torn} lines or letters torn alone, ${joined} run into another` +
    (ROTATE_MS ? `; the log rotated ${rotations} times` : ""),
);
if (lost.length > 0) console.log(`missing, for example: ${lost.slice(0, 5).join(", ")}`);
if (lost.length > 0 || twice > allowedTwice || joined > 0) Deno.exit(1);
