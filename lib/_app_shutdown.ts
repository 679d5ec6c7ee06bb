// The app's graceful shutdown: drain, close the listener, the service, then
// the files and the journal, each within its deadline. Internal to createApp.
import type { Logger } from "@logtape/logtape";
import { within } from "./_bounded_close.ts";
import { DrainProgress } from "./_drain_progress.ts";
import { monotonicClock } from "./clock.ts";
import type { InFlight } from "./_in_flight.ts";
import type { ShutdownOptions } from "./app_options.ts";
import type { TaskRunner } from "./runner.ts";

/** What the shutdown needs of the app. */
export interface ShutdownParts {
  readonly logger: Logger;
  readonly runner: TaskRunner;
  /** Requests in the handler: they may still add tasks. */
  readonly requests: InFlight;
  readonly shutdownTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly deadLetterFile: string;
  /** The journal's path, in durable mode. */
  readonly journal: string | undefined;
  /** Marks the app draining and stops what brings new work (the service's, the takeover's). */
  beginDrain(): void;
  /** Closes the service within its own deadline: whether it closed. */
  closeService(): Promise<boolean>;
  /** Closes the log files, then the journal. */
  closeFiles(): Promise<void>;
  /** Whether the journal's close was begun (which of the two a deadline cut short). */
  journalClosing(): boolean;
  /** Whether journaled work deferred at start-up is not all resumed. */
  deferring(): boolean;
}

/**
 * Drains `parts.runner` within `shutdownTimeoutMs` (or until `options.signal`
 * aborts), closes `server`'s listener, the service and the files, and
 * returns the exit code: 0 only when every accepted task finished and
 * everything closed in time.
 */
export async function shutdownApp(
  parts: ShutdownParts,
  server: { shutdown(): Promise<void> },
  options: ShutdownOptions,
): Promise<number> {
  const { logger, runner, shutdownTimeoutMs, closeTimeoutMs, journal } = parts;
  parts.beginDrain();
  const signals = [AbortSignal.timeout(shutdownTimeoutMs)];
  if (options.signal) signals.push(options.signal);
  const deadline = AbortSignal.any(signals);
  logger.info("Shutting down: waiting up to {timeoutMs} ms for {pending} pending tasks", {
    timeoutMs: shutdownTimeoutMs,
    pending: runner.pending,
  });
  const gaveUp = new Promise<void>((resolve) =>
    deadline.addEventListener("abort", () => resolve(), { once: true })
  );
  // On the deadline's clock (AbortSignal.timeout's is monotonic), not the wall's.
  const ends = monotonicClock.now() + shutdownTimeoutMs;
  let abandoned: number;
  {
    // Said until the drain ends, at its deadline too (the drain then returns).
    using _progress = new DrainProgress(
      () =>
        logger.info("Draining: {pending} tasks pending, {running} running; {leftMs} ms left", {
          pending: runner.pending,
          running: runner.running,
          leftMs: Math.max(0, Math.round(ends - monotonicClock.now())),
        }),
      options.progressMs ?? 5_000,
    );
    // Requests already in the handler may still add tasks: the runner
    // drains once they are answered. The listener stays open meanwhile,
    // so health checks see 503 draining and new work gets 503 shutting_down.
    await Promise.race([parts.requests.quiet(), gaveUp]);
    ({ abandoned } = await runner.drain({ signal: deadline }));
  }
  if (!deadline.aborted) {
    const listenerClosed = server.shutdown().then(() => true);
    if (!await Promise.race([listenerClosed, gaveUp.then(() => false)])) {
      // Said, or the operator sees only a drain that took the whole deadline.
      logger.warn(
        "Responses still open at the shutdown deadline (a stream that does not end: end it on the service's `stopping`); exiting without them",
      );
    }
  }
  // The service first, with its own deadline, then the files with theirs.
  const serviceOk = await parts.closeService();
  const closed = await within(parts.closeFiles(), closeTimeoutMs);
  if (!closed) {
    logger.error(
      parts.journalClosing()
        ? "Cannot close the journal {file} within {timeoutMs} ms (a disk or database that stalls?): outcomes not yet written are lost, and their tasks run again after the restart"
        : "Cannot close the files within {timeoutMs} ms (a disk that stalls?): lines not yet written are lost",
      { file: journal, timeoutMs: closeTimeoutMs },
    );
  }
  if (parts.deferring()) {
    logger.warn(
      "Work deferred at start-up is not all resumed; it stays in {file} for the next start",
      { file: journal },
    );
  }
  if (abandoned > 0) {
    logger.error(
      journal !== undefined
        ? "Shutdown stopped {abandoned} tasks; they stay in {file} and run after the restart"
        : "Shutdown abandoned {abandoned} tasks; see {file}",
      { abandoned, file: journal ?? parts.deadLetterFile },
    );
    return 1;
  }
  if (!closed || !serviceOk) return 1;
  logger.info("Shutdown complete: every accepted task finished");
  return 0;
}
