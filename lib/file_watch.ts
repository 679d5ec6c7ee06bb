/**
 * Reopening a file whose path no longer names it, as Python's
 * `WatchedFileHandler` does.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";

/**
 * What tells two files apart: device and inode.
 *
 * @example A stat that sees every look as a new file, as a test would give
 * ```ts
 * import { type FileIdentity, watchFile } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * let inode = 0;
 * const stat = (): Promise<FileIdentity> => Promise.resolve({ dev: 1, ino: ++inode });
 * const reopened = Promise.withResolvers<void>();
 * await using _watch = await watchFile("log.txt", async () => reopened.resolve(), {
 *   intervalMs: 10,
 *   stat,
 * });
 * await reopened.promise;
 * equal(inode >= 2, true);
 * ```
 */
export interface FileIdentity {
  /** The device the file is on. */
  dev: number;
  /** Its inode (null where the system has none). */
  ino: number | null;
}

/**
 * Options for {@linkcode watchFile}.
 *
 * @example Looking twice a second
 * ```ts
 * import { watchFile, type WatchFileOptions } from "./mod.ts";
 *
 * const path = await Deno.makeTempFile();
 * const options: WatchFileOptions = { intervalMs: 500 };
 * await using _watch = await watchFile(path, async () => {}, options);
 * ```
 */
export interface WatchFileOptions {
  /** Milliseconds between looks. @default {1000} */
  intervalMs?: number;
  /** Runs the looks. @default {systemClock} */
  clock?: Pick<Clock, "setTimeout" | "clearTimeout">;
  /** Reads the identity of the file at a path. @default {Deno.stat} */
  stat?: (path: string) => Promise<FileIdentity>;
}

/**
 * Looks at `path` every `intervalMs` and calls `reopen` once it no longer
 * names the file it named when watching began (or after the last reopen):
 * renamed away (logrotate without `copytruncate` or a signal) or deleted.
 * Lines would otherwise go on into a file nobody reads. A path that cannot
 * be looked at (no read permission) is not watched, and never prompted for.
 *
 * @param path The file a writer holds open.
 * @param reopen Opens `path` afresh (e.g. {@linkcode LogWriter.reopen}); a
 * rejection is left to it to report, and the next look tries again.
 * @param options The interval, the clock, and how a file is looked at.
 * @returns Once the file is known (the first look is done), what stops
 * watching (`await using`), once a look in progress is done.
 *
 * @example A file renamed away is reopened
 * ```ts
 * import { watchFile } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/log.txt`, "");
 * const reopened = Promise.withResolvers<void>();
 * await using _watch = await watchFile(`${dir}/log.txt`, async () => {
 *   await Deno.writeTextFile(`${dir}/log.txt`, "");
 *   reopened.resolve();
 * }, { intervalMs: 10 });
 * await Deno.rename(`${dir}/log.txt`, `${dir}/log.txt.1`);
 * await reopened.promise;
 * equal(await Deno.readTextFile(`${dir}/log.txt`), "");
 * ```
 */
export async function watchFile(
  path: string,
  reopen: () => Promise<void>,
  options: WatchFileOptions = {},
): Promise<AsyncDisposable> {
  const { intervalMs = 1_000, clock = systemClock, stat } = options;
  // Deno.stat without the grant would prompt on a terminal, and hold the start.
  const granted = () => Deno.permissions.querySync({ name: "read", path }).state === "granted";
  if (stat === undefined && !granted()) return { async [Symbol.asyncDispose]() {} };
  const lookAt = stat ?? Deno.stat;
  let known: FileIdentity | undefined;
  let timer: unknown;
  let stopped = false;
  // undefined: gone; null: cannot be looked at.
  const identity = (): Promise<FileIdentity | undefined | null> =>
    lookAt(path).then(
      ({ dev, ino }) => ({ dev, ino }),
      (error) => error instanceof Deno.errors.NotFound ? undefined : null,
    );
  const look = async (): Promise<void> => {
    const now = await identity();
    if (stopped || now === null) return;
    const replaced = known !== undefined &&
      (now === undefined || now.dev !== known.dev || now.ino !== known.ino);
    if (!replaced) known ??= now;
    else if (await reopen().then(() => true, () => false)) {
      // Kept if the new file is gone already: the next look reopens again.
      known = (await identity()) ?? known;
    }
    if (!stopped) timer = clock.setTimeout(() => void (looking = look()), intervalMs);
  };
  // Known before watching returns: a rename right after must count.
  let looking = look();
  await looking;
  return {
    async [Symbol.asyncDispose]() {
      stopped = true;
      clock.clearTimeout(timer);
      await looking;
    },
  };
}
