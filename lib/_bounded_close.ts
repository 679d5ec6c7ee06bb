// Closing with a deadline at shutdown: a service or a disk that stalls must
// not hold the exit for good. Internal.
import type { Logger } from "@logtape/logtape";
import { abortable } from "./abortable.ts";

/** Whether `promise` settled within `ms` (false if not); its rejection passes through. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return await abortable(promise, AbortSignal.timeout(ms)).then(() => true, (error) => {
    if (error instanceof DOMException && error.name === "TimeoutError") return false;
    throw error;
  });
}

/**
 * Closes `service` once however often it is called, within `ms`: whether it
 * closed in time (a hang or a failure is logged, and is false).
 */
export function serviceCloser(
  service: Partial<AsyncDisposable>,
  ms: number,
  logger: Logger,
): () => Promise<boolean> {
  let closed: Promise<boolean> | undefined;
  return () =>
    closed ??= within(Promise.try(() => service[Symbol.asyncDispose]?.()), ms).then(
      (finished) => {
        if (finished) return true;
        logger.error(
          "Cannot close the service within {timeoutMs} ms; closing the files and journal without it",
          { timeoutMs: ms },
        );
        return false;
      },
      (error) => {
        logger.error("Cannot close the service: {error}", { error });
        return false;
      },
    );
}
