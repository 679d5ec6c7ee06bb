// When a submitted group may start: after its journal commit (if any), then
// after its response was delivered (if asked). Internal to the runner.
import type { SubmitOptions } from "./runner_options.ts";

/** What the gate calls; each at most once, and only one of `start` or `drop`. */
export interface GateCallbacks {
  /** The group may run now. */
  start(): void;
  /** The commit failed: the group was never accepted. */
  drop(): void;
  /** The response could not be delivered (the group still starts). */
  lost(error: unknown): void;
}

/** Calls `start` (or `drop`) when `options.commit` and `options.after` allow. */
export function startGate(options: SubmitOptions, callbacks: GateCallbacks): void {
  const { after, commit } = options;
  const deliver = (): void => {
    if (after === undefined) return callbacks.start();
    after.then(callbacks.start, (error) => {
      callbacks.lost(error);
      callbacks.start();
    });
  };
  if (commit === undefined) deliver();
  else commit.then(deliver, callbacks.drop);
}
