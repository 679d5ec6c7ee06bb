/**
 * Opens durable mode's journal from its configuration.
 *
 * @module
 */
import type { Histogram } from "./histogram.ts";
import type { TaskStoreConfig } from "./config.ts";
import { PostgresTaskStore } from "./postgres_task_store.ts";
import { SqliteTaskStore } from "./sqlite_task_store.ts";
import type { TaskStore } from "./task_store.ts";

/**
 * A journal as the app uses it: a {@linkcode TaskStore} with a name and a health check.
 *
 * @example A journal's name and health
 * ```ts
 * import { type DurableTaskStore, openTaskStore } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const file = `${await Deno.makeTempDir()}/tasks.db`;
 * const store: DurableTaskStore = await openTaskStore({ kind: "sqlite", file });
 * equal(store.path, file);
 * equal(await store.health(), true);
 * await store.close();
 * ```
 */
export interface DurableTaskStore extends TaskStore {
  /** Its file, or its URL without the password: how logs name it. */
  readonly path: string;
  /** Whether it takes commits now (`GET /healthz`). */
  health(): Promise<boolean>;
  /** Seconds its durable writes took, the ones a 202 waits for (`GET /metrics`). */
  readonly journalSyncs: Histogram;
  /**
   * Journals that this process began to stop on request (a signal, a
   * `shutdown`); resolves once durable. A death from then on is taken for
   * the kill an orchestrator sends when its grace period ends, not a crash
   * the task caused: the tasks it finds running are resumed without counting
   * toward the crash-loop guard. A death before it counts as before.
   */
  markStopping(): Promise<void>;
}

/**
 * Options for {@linkcode openTaskStore}.
 *
 * @example A shorter retention
 * ```ts
 * import { openTaskStore } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const file = `${await Deno.makeTempDir()}/tasks.db`;
 * const store = await openTaskStore({ kind: "sqlite", file }, { retentionMs: 60_000, retentionCount: 100 });
 * equal(await store.health(), true);
 * await store.close();
 * ```
 */
export interface OpenTaskStoreOptions {
  /** Milliseconds a failed group stays in the journal. @default {600000} */
  retentionMs?: number;
  /** Failed tasks kept at most. @default {10000} */
  retentionCount?: number;
  /** Gives up opening (a database that does not answer): rejects with its reason. */
  signal?: AbortSignal;
}

/**
 * Opens the SQLite or PostgreSQL journal `config` names, and checks it.
 *
 * @param config From {@linkcode readConfig}'s `taskStore`.
 * @param options Retention of failed groups.
 * @returns The open journal.
 * @throws {Error} "Cannot open task journal …" or "Cannot open task store …", naming it.
 *
 * @example Opening a SQLite journal
 * ```ts
 * import { openTaskStore } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const file = `${await Deno.makeTempDir()}/tasks.db`;
 * const store = await openTaskStore({ kind: "sqlite", file });
 * equal(store.path, file);
 * await store.close();
 * ```
 */
export function openTaskStore(
  config: TaskStoreConfig,
  options: OpenTaskStoreOptions = {},
): Promise<DurableTaskStore> {
  return config.kind === "sqlite"
    ? Promise.resolve().then(() => {
      options.signal?.throwIfAborted();
      return SqliteTaskStore.open(config.file, options);
    })
    : PostgresTaskStore.open(config.url, options);
}
