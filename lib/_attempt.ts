// One attempt of one task: the `this` a task sees, the race between the
// task's promise and its abort, and its span. Internal to the runner.
import { type Context, context, type Span, trace } from "@opentelemetry/api";
import { abortWithHooks, hookableController } from "./_abort_hooks.ts";
import { readable } from "./_thrown.ts";
import type { TaskContext } from "./task.ts";
import type { TaskGroup } from "./task_group.ts";
import type { TaskEntry } from "./task_entry.ts";
import { taskId } from "./task_status.ts";
import type { TimeoutHandle, TimeoutQueue, TimeoutTarget } from "./timeout_queue.ts";
import {
  endAttemptSpan,
  startAttemptSpan,
  type TaskSpan,
  type TaskTracer,
} from "./task_tracing.ts";

/**
 * Called once with the attempt's outcome, and for an attempt stopped (timed
 * out or abandoned) once more, with `late`, when its code ends after all. One
 * function serves all of a runner's attempts, so that no attempt holds a
 * closure of its own.
 */
export type AttemptDone = (
  entry: TaskEntry,
  attempt: Attempt,
  failed: boolean,
  error?: unknown,
  late?: true,
) => void;

/**
 * The task context of one attempt. The `AbortController` is made only if
 * the task reads `signal`: most tasks never do, and under load every
 * allocation shows up as garbage-collection time.
 */
export class Attempt implements TaskContext, TimeoutTarget {
  readonly attempt: number;
  #entry: TaskEntry;
  #slot = -1;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  #done: AttemptDone | undefined;
  #span: TaskSpan | undefined;
  // Fields, not closures: a task that waits keeps its attempt alive through
  // scavenges, and every closure it holds is copied with it.
  #deadline: TimeoutHandle | undefined;
  #timeouts: TimeoutQueue | undefined;
  #timeout = 0;
  readonly #submit: (group: TaskGroup) => Promise<void>;

  constructor(
    entry: TaskEntry,
    tracer: TaskTracer | undefined,
    submit: (group: TaskGroup) => Promise<void>,
  ) {
    this.#entry = entry;
    this.attempt = entry.attempts;
    this.#span = tracer && startAttemptSpan(tracer, entry);
    this.#submit = submit;
  }

  /** The runner's, shared by every attempt: bound to none, so `const { submit } = this` works. */
  get submit(): (group: TaskGroup) => Promise<void> {
    return this.#submit;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = hookableController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get id(): string {
    return taskId(this.#entry.group.id, this.#entry.index);
  }

  /** The runner's handle for it among the running attempts (private: a task's `this` shows it nowhere). */
  get slot(): number {
    return this.#slot;
  }

  set slot(slot: number) {
    this.#slot = slot;
  }

  /** The task this is an attempt of. */
  get entry(): TaskEntry {
    return this.#entry;
  }

  get groupId(): string {
    return this.#entry.group.id;
  }

  get name(): string {
    return this.#entry.name;
  }

  /** Calls the task with this attempt as `this`. */
  call(): unknown {
    const { fn, args, group } = this.#entry;
    if (this.#span === undefined) return fn.apply(this, args);
    // Traced: spans the task starts (its fetches, a follow-up's tasks) are its attempt's children.
    const active = trace.setSpan(group.traceContext as Context, this.#span as Span);
    return context.with(active, fn, this, ...args);
  }

  /** Ends the attempt's span, if it is traced. */
  end(failed: boolean, error?: unknown, abandoned = false): void {
    if (this.#span === undefined) return;
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    const outcome = abandoned
      ? "abandoned"
      : !failed
      ? "succeeded"
      : timedOut
      ? "timed_out"
      : "failed";
    endAttemptSpan(this.#span, outcome, error);
  }

  /** Whether the attempt was stopped (its deadline, or shutdown) before its code ended. */
  get stopped(): boolean {
    return this.#aborted;
  }

  /** Settles with the task's promise, or with the abort reason if that comes first. */
  watch(result: PromiseLike<unknown>, done: AttemptDone): void {
    this.#done = done;
    // Promise.resolve: a thenable whose then throws rejects, not throws here.
    Promise.resolve(result).then(
      () => this.#ended(false),
      (error: unknown) => this.#ended(true, readable(error)),
    );
  }

  /**
   * Watches `result` with a deadline: at `timeout` ms the attempt aborts
   * (TimeoutError), even if the task ignores its signal.
   */
  watchWithDeadline(
    result: PromiseLike<unknown>,
    timeouts: TimeoutQueue,
    timeout: number,
    done: AttemptDone,
  ): void {
    this.#timeouts = timeouts;
    this.#timeout = timeout;
    // The attempt is its own timeout: no closure for a waiting task to keep.
    this.#deadline = timeouts.add(timeout, this);
    this.watch(result, done);
  }

  /** Its deadline passed: aborts it with a TimeoutError. */
  onTimeout(): void {
    this.abort(new DOMException(`Task timed out after ${this.#timeout} ms`, "TimeoutError"));
  }

  /** Aborts the signal and ends the attempt as failed, even if the task ignores it. */
  abort(reason: unknown): void {
    const done = this.#done;
    if (this.#aborted || done === undefined) return;
    this.#aborted = true;
    this.#reason = reason;
    if (this.#controller !== undefined) abortWithHooks(this.#controller, reason);
    this.#settle(done, true, reason);
  }

  /** The task's own promise settled: the outcome, or after an abort its late end. */
  #ended(failed: boolean, error?: unknown): void {
    const done = this.#done;
    if (done === undefined) return;
    this.#done = undefined;
    if (this.#aborted) done(this.#entry, this, failed, error, true);
    else this.#settle(done, failed, error);
  }

  #settle(done: AttemptDone, failed: boolean, error?: unknown): void {
    if (this.#deadline !== undefined) this.#timeouts?.remove(this.#deadline);
    done(this.#entry, this, failed, error);
  }
}

/** Whether a task's return value is a promise (or any thenable) to wait for. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
