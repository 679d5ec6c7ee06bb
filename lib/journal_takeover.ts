/**
 * Durable mode's intake of journaled work it did not accept itself: the
 * unfinished tasks found at start-up, the ones deferred while the backlog
 * was full, and, with a shared journal, those of servers that died since.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { StructuredLogger } from "./logging.ts";
import { MAX_TIMER_MS, systemClock } from "./clock.ts";
import { DeferredRecovery } from "./deferred_recovery.ts";
import { type RecoverOptions, type RecoverResult, recoverTasks } from "./recovery.ts";
import type { TaskStore } from "./task_store.ts";

// A walk of deferred work whose read failed: tried again after these, doubling.
const RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;

/**
 * Options for {@linkcode JournalTakeover}.
 *
 * @example Looking once, at start-up
 * ```ts
 * import { defineTask, definitionsByName, JournalTakeover, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * await using runner = new TaskRunner();
 * const sent: string[] = [];
 * const send = defineTask("send", (to: string) => void sent.push(to));
 * const orphan = {
 *   id: "g/0", groupId: "g", index: 0, name: "send", args: ["ada"],
 *   attempts: 0, nextAt: 0, crashes: 0, quarantined: false,
 * };
 * using takeover = new JournalTakeover({
 *   store: { recover: () => [orphan], list: () => [], fail: () => {} },
 *   name: "tasks.db",
 *   definitions: definitionsByName(send),
 *   runner,
 *   deadLetter: () => {},
 *   known: (groupId) => groupId === "running-here",
 *   intervalMs: 0, // no later looks
 * });
 * deepEqual(await takeover.start(), { resumed: 1, deadLettered: 0, deferred: 0 });
 * await runner.idle();
 * deepEqual(sent, ["ada"]);
 * ```
 */
export interface JournalTakeoverOptions extends Omit<RecoverOptions, "store" | "signal"> {
  /** The journal. */
  store: Pick<TaskStore, "recover" | "list" | "fail">;
  /** The journal's name in logs (its file or URL). */
  name: string;
  /** Whether the runner has had the group since start-up (resumed or accepted then). */
  known: (groupId: string) => boolean;
  /**
   * Milliseconds from the end of one look for orphaned work to the start of
   * the next, after start-up, for a journal that servers share (timed on
   * `clock`); 0 looks at start-up only.
   * @default {0}
   */
  intervalMs?: number;
  /**
   * Milliseconds a look may go unanswered before the next one is started
   * anyway (a database connection that is stuck would otherwise stop the
   * looks for good); if the stuck look ends later, what it adopted still runs.
   * @default {60000}
   */
  lookTimeoutMs?: number;
  /**
   * Where the looks' results and failures are logged.
   * @default {getLogger(["posthaste", "journal"])}
   */
  logger?: StructuredLogger;
}

/**
 * Options for {@linkcode JournalTakeover.start}.
 *
 * @example Giving up the first look
 * ```ts
 * import { JournalTakeover, TaskRunner } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * using takeover = new JournalTakeover({
 *   store: { recover: () => new Promise(() => {}), list: () => [], fail: () => {} },
 *   name: "postgres://db/tasks",
 *   definitions: new Map(),
 *   runner: new TaskRunner(),
 *   deadLetter: () => {},
 *   known: () => false,
 * });
 * await rejects(takeover.start({ signal: AbortSignal.abort(new Error("stop")) }), /stop/);
 * ```
 */
export interface TakeoverStartOptions {
  /**
   * Gives up the start-up look: it rejects with the signal's reason, no
   * group is submitted, and the interval does not start.
   */
  signal?: AbortSignal;
}

/**
 * Runs {@linkcode recoverTasks} at start-up and then every `intervalMs`, and
 * keeps one {@linkcode DeferredRecovery} for the work that did not fit the
 * backlog, resumed whenever {@linkcode JournalTakeover.roomFreed} is called.
 *
 * @example Starting with an empty journal
 * ```ts
 * import { JournalTakeover, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * using takeover = new JournalTakeover({
 *   store: { recover: () => [], list: () => [], fail: () => {} },
 *   name: "tasks.db",
 *   definitions: new Map(),
 *   runner: new TaskRunner(),
 *   deadLetter: () => {},
 *   known: () => false,
 * });
 * deepEqual(await takeover.start(), { resumed: 0, deadLettered: 0, deferred: 0 });
 * ```
 */
export class JournalTakeover implements Disposable {
  readonly #options: JournalTakeoverOptions;
  readonly #logger: StructuredLogger;
  #deferred: DeferredRecovery | undefined;
  #resuming = false;
  #timer: unknown;
  #retry: unknown;
  #retryMs = RETRY_MS;
  #disposed = false;
  #adopting: Promise<RecoverResult> | undefined;

  /**
   * Nothing is read before {@linkcode JournalTakeover.start}.
   *
   * @param options The journal, definitions, runner, dead letters and interval.
   * @throws {RangeError} If `intervalMs` is not from 0, or `lookTimeoutMs` from 1,
   * to {@linkcode MAX_TIMER_MS} (a longer timer would fire at once).
   */
  constructor(options: JournalTakeoverOptions) {
    const { intervalMs = 0, lookTimeoutMs = 60_000 } = options;
    this.#logger = options.logger ?? getLogger(["posthaste", "journal"]);
    const limits = { intervalMs: [intervalMs, 0], lookTimeoutMs: [lookTimeoutMs, 1] } as const;
    for (const [name, [value, min]] of Object.entries(limits)) {
      if (!(value >= min && value <= MAX_TIMER_MS)) {
        throw new RangeError(
          `Cannot create journal takeover: ${name} must be from ${min} to ${MAX_TIMER_MS}, got ${value}`,
        );
      }
    }
    this.#options = options;
  }

  /** Whether work deferred for lack of room is still waiting in the journal. */
  get deferring(): boolean {
    return this.#deferred?.done === false;
  }

  /**
   * Submits the journal's unfinished work and starts the interval.
   *
   * @param options A signal to give up.
   * @returns What start-up resumed, dead-lettered and deferred.
   * @throws {Error} If the journal cannot be read (the server must not start).
   */
  async start(options: TakeoverStartOptions = {}): Promise<RecoverResult> {
    const result = await this.#adopt(true, options.signal);
    this.#lookLater();
    return result;
  }

  /**
   * The runner has room again: deferred work resumes (after the current
   * settling). A walk whose read of the journal fails is tried again after
   * 1 s, doubling to at most a minute: no task may be left to end and call this.
   */
  roomFreed(): void {
    if (!this.deferring || this.#resuming) return;
    this.#resuming = true;
    queueMicrotask(() => {
      this.#resuming = false;
      this.#deferred?.resume().then(() => this.#retryMs = RETRY_MS, (error) => {
        this.#logger.error("Cannot resume deferred tasks (tried again in {retryMs} ms): {error}", {
          error,
          retryMs: this.#retryMs,
        });
        this.#resumeLater();
      });
    });
  }

  /** Stops looking for orphaned work, and trying deferred work again. */
  [Symbol.dispose](): void {
    const { clock = systemClock } = this.#options;
    for (const timer of [this.#timer, this.#retry]) {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
    this.#timer = this.#retry = undefined;
    this.#disposed = true;
  }

  #resumeLater(): void {
    const { clock = systemClock } = this.#options;
    if (this.#disposed || this.#retry !== undefined) return;
    const retryMs = this.#retryMs;
    this.#retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    this.#retry = clock.setTimeout(() => {
      this.#retry = undefined;
      this.roomFreed();
    }, retryMs);
  }

  // The next look is timed from the end of this one: a slow database never
  // has two under way.
  #lookLater(): void {
    const { intervalMs = 0, clock = systemClock } = this.#options;
    if (intervalMs <= 0) return;
    const timer = this.#timer = clock.setTimeout(() => {
      this.#untilAnswerOrTimeout(this.#adopt(false)).catch((error) => {
        // Disposed meanwhile: the shutdown closed the journal under the look.
        if (this.#timer !== timer) return;
        this.#logger.error("Cannot take over orphaned tasks: {error}", { error });
      }).finally(() => {
        if (this.#timer === timer) this.#lookLater(); // not disposed meanwhile
      });
    }, intervalMs);
  }

  /**
   * The look, or its timeout: then the look no longer counts as under way, so
   * the next starts, while this one may still end and submit what it adopted.
   */
  #untilAnswerOrTimeout(look: Promise<RecoverResult>): Promise<unknown> {
    const { name, lookTimeoutMs = 60_000, clock = systemClock } = this.#options;
    let timer: unknown;
    const timedOut = new Promise<void>((resolve) => {
      timer = clock.setTimeout(() => {
        if (this.#adopting === look) this.#adopting = undefined;
        this.#logger.error(
          "Journal {name}: a look for orphaned work has had no answer in {lookTimeoutMs} ms; looking again",
          { name, lookTimeoutMs },
        );
        resolve();
      }, lookTimeoutMs);
    });
    return Promise.race([look, timedOut]).finally(() => clock.clearTimeout(timer));
  }

  #adopt(startUp: boolean, signal?: AbortSignal): Promise<RecoverResult> {
    // One look at a time: a slow database does not pile them up.
    if (this.#adopting) return this.#adopting;
    const look: Promise<RecoverResult> = this.#look(startUp, signal).finally(() => {
      if (this.#adopting === look) this.#adopting = undefined;
    });
    return this.#adopting = look;
  }

  async #look(startUp: boolean, signal?: AbortSignal): Promise<RecoverResult> {
    const { name } = this.#options;
    const result = await recoverTasks(signal ? { ...this.#options, signal } : this.#options);
    if (startUp || result.resumed + result.deadLettered + result.deferred > 0) {
      const found = startUp
        ? "{resumed} unfinished tasks resumed"
        : "took over {resumed} tasks of servers that stopped";
      this.#logger.info(
        `Journal {name}: ${found}, {deadLettered} dead-lettered, {deferred} deferred until the backlog has room`,
        { name, ...result },
      );
    }
    if (result.deferred > 0) {
      // A walk under way may be past some of what this look deferred: it goes over again.
      if (this.deferring) this.#deferred?.again();
      else {
        const deferred = this.#deferred = new DeferredRecovery(this.#options);
        void deferred.finished.then((result) =>
          this.#logger.info(
            "Journal {name}: deferred tasks resumed: {resumed}, dead-lettered {deadLettered}, larger than MAX_PENDING {deferred}",
            { name, ...result },
          )
        );
      }
      // What this look resumed may all have ended already: no settling to come would resume it.
      this.roomFreed();
    }
    return result;
  }
}
