// The script every pool worker runs: it imports task modules on demand and
// answers one job at a time. Internal to WorkerPool.

interface Job {
  id: number;
  module: string;
  name: string;
  args: unknown[];
}

/**
 * The worker's global scope, typed here rather than by a triple-slash
 * `deno.worker` reference, which a published package may not use (it would
 * change its users' globals).
 */
interface WorkerScope {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent<Job>) => unknown) | null;
  addEventListener(type: "error", listener: (event: ErrorEvent) => void): void;
  addEventListener(
    type: "unhandledrejection",
    listener: (event: PromiseRejectionEvent) => void,
  ): void;
  removeEventListener(type: "error", listener: (event: ErrorEvent) => void): void;
  removeEventListener(
    type: "unhandledrejection",
    listener: (event: PromiseRejectionEvent) => void,
  ): void;
}
const scope = globalThis as unknown as WorkerScope;

let current: number | undefined;

// A task that closes its own worker fails only itself: tell the pool first.
// Deno.exit in a worker ends the worker alone, and as silently as close.
// The pool learns which job ran (none between jobs), through the port, which
// keeps order: a job it sent since has not started and goes to another worker.
const closing = (crash?: Described): void =>
  scope.postMessage({ id: current, ok: false, closed: true, crash });
const close = scope.close.bind(scope);
const exit = Deno.exit.bind(Deno);
scope.close = (): void => {
  closing();
  close();
};
Deno.exit = (code?: number): never => {
  closing();
  return exit(code);
};

// An error no task caught (a timer's throw, a forgotten rejection) ends the
// worker, as it would end a process; said here, it names the job it ended
// (before, the pool's onerror failed whatever job it had sent last, even one
// not started), and Deno prints no stack outside the server's JSON logs.
const crashed = (event: Event, error: unknown): void => {
  if (event.defaultPrevented) return; // a task module's own listener handled it
  event.preventDefault();
  closing(described(error));
  close();
};
const onError = (event: ErrorEvent) => crashed(event, event.error ?? event.message);
const onRejection = (event: PromiseRejectionEvent) => crashed(event, event.reason);
/** Listened for last, after those a task module adds as it loads. */
const listenLast = (): void => {
  scope.removeEventListener("error", onError);
  scope.removeEventListener("unhandledrejection", onRejection);
  scope.addEventListener("error", onError);
  scope.addEventListener("unhandledrejection", onRejection);
};
listenLast();

scope.onmessage = async ({ data }: MessageEvent<Job>): Promise<void> => {
  current = data.id;
  try {
    const module = await import(data.module);
    listenLast();
    const fn = module[data.name];
    if (typeof fn !== "function") {
      throw new TypeError(`Cannot run worker task: ${data.module} has no function "${data.name}"`);
    }
    scope.postMessage({ id: data.id, ok: true, value: await fn(...data.args) });
  } catch (error) {
    scope.postMessage({ id: data.id, ok: false, error: described(error) });
  } finally {
    current = undefined;
  }
};

/** A failure as the host tells the pool of it (the pool imports this type). */
export interface Described {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** A `RetryAfterError`'s wait, in milliseconds. */
  readonly delayMs?: number;
}

/**
 * A failure as it crosses back to the pool: strings, whatever was thrown. A
 * value whose text cannot be read (no prototype, a throwing toString) is said
 * to be so, not left to crash the worker. Written here, not imported from
 * lib/_thrown.ts: a worker may read only its own module.
 */
function described(error: unknown): Described {
  try {
    if (!(error instanceof Error)) return { name: "Error", message: String(error) };
    const { stack } = error, { delayMs } = error as { delayMs?: unknown };
    const text: Described = { name: String(error.name), message: String(error.message) };
    return {
      ...text,
      ...typeof stack === "string" && { stack },
      ...typeof delayMs === "number" && { delayMs },
    };
  } catch {
    return {
      name: "TypeError",
      message:
        `Cannot read the ${typeof error} that was thrown: it has no usable message or string form`,
    };
  }
}
