/**
 * The error a task throws when trying again cannot help.
 *
 * @module
 */

/**
 * Thrown by a task, fails it at once: no retry is made, whatever its
 * `retries`, and it goes to the dead letters as any task that failed its
 * last attempt. For a failure the next attempt would meet the same way (a
 * mail API that refuses the address with a 400, an order that no longer
 * exists), where retrying only delays the dead letter and loads the other
 * side. A task in a worker throws an error named `UnrecoverableError` (it
 * cannot import this class), which the pool gives back as one.
 *
 * @example A refused address is not retried
 * ```ts
 * import { defineTask, TaskGroup, TaskRunner, UnrecoverableError } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const send = defineTask("send", (to: string) => {
 *   throw new UnrecoverableError(`Cannot send to ${JSON.stringify(to)}: the mail API refused it`);
 * }, { retries: 5 });
 * await using runner = new TaskRunner({ logger: { info() {}, warn() {}, error() {} } });
 * const group = new TaskGroup().add(send, "nobody@example.invalid");
 * runner.submit(group);
 * await group.settled();
 * equal(group.tasks[0]?.state, "failed");
 * equal(group.tasks[0]?.attempts, 1);
 * ```
 */
export class UnrecoverableError extends Error {
  /**
   * Makes the error.
   *
   * @param message What failed, and why trying again cannot help.
   * @param options Its `cause`, e.g. the response that said so.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnrecoverableError";
  }
}
