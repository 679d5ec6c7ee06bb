/**
 * Dead letters run again: the tasks a server gave up on (every attempt
 * failed, or the shutdown deadline came first), replayed in a process of
 * their own with the server's tasks and configuration. `replay.ts` runs it
 * with the demo service; run it with yours.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { abortable } from "./abortable.ts";
import { createApp } from "./app.ts";
import { Fifo } from "./fifo.ts";
import type { App } from "./app_options.ts";
import { readDeadLetters, type ReplayLetter } from "./_dead_letter_input.ts";
import { type Choices, choices, groupOf, type Plan, planReplay } from "./_replay_plan.ts";
import { asProcess, type Listen, processConfig, startFailed, STOP_SIGNALS } from "./_process.ts";
import { definitionsByName } from "./recovery.ts";
import type { SignalSource } from "./run_server.ts";
import { notificationService, type ServiceFactory } from "./service.ts";
import { catchStrayErrors } from "./stray_errors.ts";
import type { TaskDefinition } from "./task.ts";
import type { TaskGroup } from "./task_group.ts";

/**
 * Options for {@linkcode runReplay}: what to replay with, and the parts of
 * the process it uses, each Deno's own unless given.
 *
 * @example Letters given as text
 * ```ts
 * import type { RunReplayOptions } from "./mod.ts";
 *
 * const letter = { reason: "failed", task: "send-notification", taskId: "g/0", groupId: "g",
 *   args: ["ada@example.com", "hi"] };
 * const options: RunReplayOptions = {
 *   input: new Blob([JSON.stringify(letter) + "\n"]).stream(),
 *   args: ["--reason=failed"],
 * };
 * ```
 */
export interface RunReplayOptions {
  /** The tasks to replay with, those of a server's service. @default {notificationService} */
  service?: ServiceFactory;
  /** The dead letters, one JSON line each. @default {standard input} */
  input?: ReadableStream<Uint8Array>;
  /**
   * The command line: `--reason=failed,crash_loop` picks the letters replayed
   * by their reason (`failed`, `shutdown`, `unknown_task`, `crash_loop`);
   * without it, all but `crash_loop`. `--dry-run` says what would be
   * replayed, and runs nothing.
   * @default {Deno.args}
   */
  args?: readonly string[];
  /** Reads a configuration variable. @default {Deno.env.get} */
  env?: (name: string) => string | undefined;
  /** Where signals come from. @default {Deno} */
  signals?: SignalSource;
  /** Where the replay's own log lines go, synchronously. @default {stderr} */
  logTo?: (line: string) => void;
  /** Aborting it stops the replay as SIGTERM does. */
  signal?: AbortSignal;
}

/**
 * Replays dead letters: reads them (standard input by default), rebuilds each
 * group from its letters with the service's task definitions, and runs them as
 * the server would (`LOG_FILE`, `DEAD_LETTER_FILE`, `MAX_CONCURRENCY`,
 * `TASK_TIMEOUT_MS`, `TASK_RETRIES`…), in memory: `TASK_STORE` is not opened,
 * so a server may run meanwhile. A task keeps its id (`this.id`,
 * `<group id>/<index>`) and gets all its attempts again; one that fails again
 * is dead-lettered again. The service is made for its tasks only, with
 * `stopping` already aborted, so that it starts no work of its own (a
 * timer, a queue it consumes). A signal stops it as it stops the server (a drain
 * of up to `SHUTDOWN_TIMEOUT_MS`; a second gives up). Replaying is at least
 * once: the same letters replayed twice run twice.
 *
 * @param options What to replay, and the parts of the process it uses.
 * @returns The exit code: 0 when every letter chosen ran to success; 1 when
 * one failed again, was stopped, could not be read or has no task defined.
 *
 * @example Replaying a notification that failed
 * ```ts
 * import { runReplay } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const env: Record<string, string> = {
 *   LOG_FILE: `${dir}/log.txt`, DEAD_LETTER_FILE: `${dir}/dl.jsonl`, WORKERS: "0",
 * };
 * const letter = { reason: "failed", task: "send-notification", taskId: "g/0", groupId: "g",
 *   args: ["ada@example.com", "hi"] };
 * const code = await runReplay({
 *   input: new Blob([JSON.stringify(letter) + "\n"]).stream(),
 *   args: [], env: (name) => env[name], logTo: () => {},
 * });
 * equal(code, 0);
 * equal(await Deno.readTextFile(`${dir}/log.txt`), "notification for ada@example.com: hi\n");
 * ```
 */
export function runReplay(options: RunReplayOptions = {}): Promise<number> {
  return asProcess(options.signals ?? Deno, (listen, ended) => replay(options, listen, ended));
}

async function replay(options: RunReplayOptions, listen: Listen, ended: AbortSignal) {
  const logger = getLogger(["posthaste", "replay"]);
  let journaled = false;
  const config = await processConfig(logger, {
    ...options,
    listens: false,
    adjust: (config) => {
      journaled = config.taskStore !== undefined;
      return { ...config, taskStore: undefined };
    },
  });
  if (config === undefined) return 1;
  if (journaled) {
    // Said, or a durable server's operator would take the replay to be journaled.
    logger.info(
      "Replaying in this process's memory: TASK_STORE is not opened, so a replay that dies leaves its letters to be replayed again",
    );
  }
  // A signal stops reading and starting; once running, it drains, and a second gives up.
  const stop = new AbortController();
  const giveUp = new AbortController();
  for (const signal of STOP_SIGNALS) {
    listen(signal, () => stop.signal.aborted ? giveUp.abort() : stop.abort(signal));
  }
  options.signal?.addEventListener("abort", () => stop.abort("SIGTERM"), { signal: ended });
  if (options.signal?.aborted) stop.abort("SIGTERM");
  // logrotate's SIGUSR2, meant for the server, must not end a replay (its
  // default action): the replay's files are reopened too.
  let reopen = (): void => {};
  if (Deno.build.os !== "windows") listen("SIGUSR2", () => reopen());

  let letters: ReplayLetter[];
  let chosen: Choices;
  try {
    chosen = choices(options.args ?? Deno.args);
    const read = await abortable(readDeadLetters(input(options.input)), stop.signal);
    letters = read.letters;
    if (read.cutOff.length > 0) {
      logger.warn(
        "Skipped {count} dead letters a kill cut off as they were written (lines {lines}): their arguments may be incomplete; in durable mode their tasks run again at the server's restart",
        { count: read.cutOff.length, lines: read.cutOff },
      );
    }
  } catch (error) {
    if (stop.signal.aborted) return stopped(logger, stop.signal);
    return startFailed(logger, error);
  }
  let tasks: readonly TaskDefinition<never>[] = [];
  // Made only for its tasks: its own sources of work (a timer, a queue it
  // consumes) must not start here, so it is told it is stopping already.
  const stopping = AbortSignal.abort(new DOMException("A replay serves nothing", "AbortError"));
  const service: ServiceFactory = async (parts) => {
    const made = await (options.service ?? notificationService)({ ...parts, stopping });
    tasks = made.tasks;
    return made;
  };
  let app: App;
  try {
    app = await createApp(config, { service, signal: stop.signal });
  } catch (error) {
    if (stop.signal.aborted) return stopped(logger, stop.signal);
    return startFailed(logger, error);
  }
  reopen = () => void app.reopenFiles();
  using _strays = catchStrayErrors();
  const definitions = definitionsByName(...tasks);
  const plan = planReplay(letters, chosen.reasons, definitions, logger);
  if (chosen.dryRun) {
    logger.info(
      "Would replay {tasks} tasks of {groups} groups ({names}); --dry-run: none was run",
      {
        tasks: plan.tasks,
        groups: plan.groups.length,
        names: plan.names,
      },
    );
    await app[Symbol.asyncDispose]();
    return plan.undefinedTasks === 0 ? 0 : 1;
  }
  if (plan.groups.length > 0) {
    logger.info("Replaying {tasks} tasks of {groups} groups", {
      tasks: plan.tasks,
      groups: plan.groups.length,
    });
  }
  // Submitted ahead of the running ones, groups only take memory: a window of
  // twice what runs at once (100,000 waiting took 0.5 GB for 200,000 letters).
  const window = Math.min(config.maxPending, 2 * config.maxConcurrency);
  const counts = await runAll(app, plan, definitions, window, stop.signal, logger);
  // Every task's end, or a signal: then the drain, as the server's.
  await abortable(app.runner.idle(), stop.signal).catch(() => {});
  let closed = 0;
  if (stop.signal.aborted) {
    closed = await app.shutdown({ shutdown: () => Promise.resolve() }, { signal: giveUp.signal });
  } else await app[Symbol.asyncDispose]();
  return summarize(logger, plan, await counts.all(), config.deadLetterFile) && closed === 0 ? 0 : 1;
}

function input(given: ReadableStream<Uint8Array> | undefined): ReadableStream<Uint8Array> {
  if (given === undefined && Deno.stdin.isTerminal()) {
    throw new Error(
      "Cannot replay: give the dead letters on standard input (deno task replay < dead-letter.jsonl)",
    );
  }
  return given ?? Deno.stdin.readable;
}

/** How the tasks submitted ended. */
interface Counts {
  done: number;
  failed: number;
  abandoned: number;
}

/**
 * Submits the groups in order, each once the backlog has room for it, until
 * stopped; `all()` gives how the submitted tasks ended, once they all did.
 */
async function runAll(
  app: App,
  plan: Plan,
  definitions: ReadonlyMap<string, TaskDefinition<never>>,
  window: number,
  stop: AbortSignal,
  logger: Logger,
): Promise<{ all(): Promise<Counts> }> {
  const counts: Counts = { done: 0, failed: 0, abandoned: 0 };
  const tally = (group: TaskGroup): void => {
    for (const { state } of group.tasks) {
      counts[state === "done" || state === "failed" ? state : "abandoned"]++;
    }
  };
  // Groups are counted as they end, and let go of: oldest first, to wait for room.
  const ending = new Fifo<Promise<void>>();
  const all = async () => {
    while (ending.length > 0) await ending.shift();
    return counts;
  };
  for (const letters of plan.groups) {
    while (app.runner.pending + letters.length > window && ending.length > 0) {
      await abortable(ending.shift() as Promise<void>, stop).catch(() => {});
      if (stop.aborted) return { all };
    }
    if (stop.aborted) break;
    const group = groupOf(letters, definitions);
    try {
      await app.submit(group);
      ending.push(group.settled().then(tally));
    } catch (error) {
      logger.error("Cannot replay group {groupId}: {error}", { groupId: group.id, error });
    }
  }
  return { all };
}

/** Logs what the replay did; true if every task chosen succeeded. */
function summarize(logger: Logger, plan: Plan, counts: Counts, file: string): boolean {
  const notRun = plan.tasks - counts.done - counts.failed - counts.abandoned;
  if (plan.tasks === 0) logger.info("Nothing to replay");
  else if (counts.done === plan.tasks) {
    logger.info("Replayed {tasks} tasks: every one done", { tasks: plan.tasks });
  } else {
    logger.error(
      "Replayed {tasks} tasks: {done} done, {failed} failed again, {abandoned} stopped, {notRun} not run; dead letters for those that failed or were stopped are in {file}",
      { tasks: plan.tasks, ...counts, notRun, file },
    );
  }
  return counts.done === plan.tasks && plan.undefinedTasks === 0;
}

function stopped(logger: Logger, signal: AbortSignal): number {
  logger.info("Replay stopped by {signal}: nothing was run", { signal: signal.reason });
  return 1;
}
