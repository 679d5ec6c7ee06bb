/**
 * The notification service, assembled from configuration.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "./config.ts";
import { type DeadLetter, deadLetterLine } from "./dead_letter.ts";
import { GroupRegistry } from "./group_registry.ts";
import { InFlight } from "./_in_flight.ts";
import { escapeJsonLine } from "./escape_line.ts";
import { watchFile } from "./file_watch.ts";
import { Metrics } from "./metrics.ts";
import { opsRoutes } from "./ops_routes.ts";
import { JournalTakeover } from "./journal_takeover.ts";
import { openTaskStore } from "./open_task_store.ts";
import { definitionsByName } from "./recovery.ts";
import { TaskRunner } from "./runner.ts";
import { createHandler } from "./server.ts";
import { notificationService } from "./service.ts";
import { isStandardOutput, openLogFile } from "./_log_files.ts";
import { Reopens } from "./_reopens.ts";
import { SqliteTaskStore } from "./sqlite_task_store.ts";
import { recordingTracer } from "./task_tracing.ts";
import { WorkerPool } from "./worker_pool.ts";
import type { App, CreateAppOptions, ShutdownOptions } from "./app_options.ts";
import { serviceCloser } from "./_bounded_close.ts";
import { shutdownApp } from "./_app_shutdown.ts";
import { checkDistinctFiles } from "./_distinct_files.ts";
import { knownTasksOnly } from "./_known_tasks.ts";
import { keepingRoom } from "./_room_kept.ts";
import { checkSharedLimits } from "./_task_options.ts";
import { outsideRequests } from "./_submit.ts";
import type { TaskStore } from "./task_store.ts";

/**
 * Opens the log files and builds the runner, routes and handler.
 *
 * @param config The configuration, e.g. from {@linkcode readConfig}.
 * @param options A signal to give up starting.
 * @returns The app; `await using` closes its files.
 * @throws {Error} If a file or the journal cannot be opened, or recovery
 * fails; whatever was opened is closed first.
 *
 * @example Serving the notification service
 * ```ts
 * import { createApp, readConfig } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const env: Record<string, string> = { LOG_FILE: `${dir}/log.txt`, DEAD_LETTER_FILE: `${dir}/dl.jsonl` };
 * await using app = await createApp(readConfig((name) => env[name]));
 * await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.handler);
 * const url = `http://127.0.0.1:${server.addr.port}/send-notification/ada@example.com`;
 * equal((await fetch(url, { method: "POST" })).status, 202);
 * await app.runner.idle();
 * await app.log.flush();
 * equal(await Deno.readTextFile(`${dir}/log.txt`), "notification for ada@example.com: some notification\n");
 * ```
 */
export async function createApp(config: Config, options: CreateAppOptions = {}): Promise<App> {
  options.signal?.throwIfAborted();
  const logger = getLogger(["posthaste", "app"]);
  // Until the app is returned, a failure closes what was opened (last first).
  await using opened = new AsyncDisposableStack();
  const { signal, closeTimeoutMs = 5_000 } = options;
  const log = opened.use(await openLogFile("LOG_FILE", config.logFile, { signal }));
  // One JSON record a line: escaped as JSON, so that each line parses back.
  // Created readable by its owner only: a letter holds its task's arguments.
  const deadLetters = opened.use(
    await openLogFile("DEAD_LETTER_FILE", config.deadLetterFile, {
      escape: escapeJsonLine,
      mode: 0o600,
      signal,
    }),
  );
  await checkDistinctFiles(config); // the log files exist now: compared as files
  // Durable mode: open (and check) the journal before anything is served.
  const store = config.taskStore && await openTaskStore(config.taskStore, {
    retentionMs: config.statusRetentionMs,
    retentionCount: config.statusRetentionCount,
    ...(signal && { signal }),
  });
  if (store) opened.defer(() => store.close());
  const registry = new GroupRegistry({
    maxFinished: config.statusRetentionCount,
    retentionMs: config.statusRetentionMs,
  });
  // Made once the service is (below). Declared first: a service may submit
  // work as it is made, and a group that settles then reaches for it.
  let takeover: JournalTakeover | undefined = undefined;
  const deferring = () => !!takeover?.deferring;
  const runner = new TaskRunner({
    maxConcurrency: config.maxConcurrency,
    maxPending: config.maxPending,
    timeout: config.taskTimeoutMs,
    retries: config.taskRetries,
    // Durable mode keeps tasks abandoned at shutdown in the journal: they are not lost.
    deadLetter: (record) =>
      store && record.reason === "shutdown"
        ? undefined
        : deadLetters.append(deadLetterLine(record)),
    journal: store,
    onGroupAccepted: (group) => registry.track(group),
    onGroupDropped: (group) => registry.forget(group),
    onGroupSettled: (group) => {
      registry.settled(group);
      // Journaled work deferred for lack of room resumes once half the backlog is free.
      if (runner.pending <= config.maxPending / 2) takeover?.roomFreed();
    },
    tracer: recordingTracer(),
    submitFollowUp: (group) => followUp(group),
  });
  const metrics = new Metrics(runner, { notifications: log, "dead-letters": deadLetters });
  metrics.journalSyncs = store?.journalSyncs;
  let draining = false;
  const pool = config.workers > 0
    ? opened.use(new WorkerPool({ size: config.workers }))
    : undefined;
  metrics.workerPool = pool;
  // What a journal accepts: the service's tasks, known once it is made.
  let journal: Pick<TaskStore, "enqueue"> | null | undefined = store ? null : undefined;
  // New work (a request's, App.submit's) leaves the room kept for deferred
  // work; a task's follow-up continues accepted work and takes any room.
  let newWork: Pick<TaskStore, "enqueue"> | null | undefined = journal;
  const known = (id: string) => registry.has(id);
  const followUp = outsideRequests(runner, known, () => journal);
  const submit = outsideRequests(runner, known, () => newWork);
  // Aborted once shutdown begins (or the start fails): a service stops bringing work.
  const stopping = new AbortController();
  const service = await (options.service ?? notificationService)({
    config,
    log,
    pool,
    submit,
    stopping: stopping.signal,
    ...(signal && { signal }),
  });
  // Bounded: a service that never closes must not keep the files from being
  // flushed and closed after it (their lines would be lost at exit).
  const closeService = serviceCloser(service, closeTimeoutMs, logger);
  opened.defer(async () => void await closeService());
  opened.defer(() => stopping.abort()); // before the service closes
  signal?.throwIfAborted(); // a service made asynchronously may not have looked
  // Recovered tasks may be running: they stop, and stay in the journal
  // (before the service and the pool they may use are closed).
  opened.defer(async () => void await runner.drain({ signal: AbortSignal.abort() }));
  const definitions = definitionsByName(...service.tasks);
  checkSharedLimits(definitions.values(), "make the app");
  if (store) {
    journal = knownTasksOnly(store, definitions);
    newWork = keepingRoom(journal, () => runner.pending, config.maxPending, deferring);
  }
  // The app's own routes first: a service's catch-all (`GET /:page`) or its
  // own /healthz must not hide the health check a load balancer drains by.
  const routes = [
    ...opsRoutes({
      draining: () => draining,
      status: (id, options) => registry.status(id) ?? store?.status(id, options),
      metrics,
      journalHealth: store && (() => store.health()),
    }),
    ...service.routes,
  ];
  // Requests in the handler: their tasks are accepted even after draining
  // began, so the runner drains only once they are answered.
  const requests = new InFlight();
  const replays = { count: 0 };
  metrics.replays = replays;
  const handler = requests.wrap(createHandler({
    routes,
    runner,
    onResponse: (route, status, seconds) => metrics.request(route, status, seconds),
    accepting: () => !draining,
    journal: newWork ?? undefined,
    fingerprintOf: (id) => registry.fingerprint(id),
    onReplay: () => void replays.count++,
    onRefused: (code) => metrics.refused(code),
  }));
  // Standard output is neither rotated nor replaced: nothing to reopen.
  const files = ([[config.logFile, log], [config.deadLetterFile, deadLetters]] as const)
    .filter(([file]) => !isStandardOutput(file));
  const reopens = new Reopens(logger);
  for (const [file] of files) await reopens.opened(file);
  const watches: AsyncDisposable[] = [];
  // Once: `await using app` after `app.shutdown()` closes nothing twice.
  let filesClosed: Promise<void> | undefined;
  // Which of the two a close cut short at its deadline was at: said in the log.
  let journalClosing = false;
  const closeFiles = (): Promise<void> =>
    filesClosed ??= (async () => {
      takeover?.[Symbol.dispose]();
      const unwatched = watches.map((watch) => watch[Symbol.asyncDispose]());
      // The service first: its tasks are done, and closing it may still log.
      await closeService();
      await Promise.allSettled([...unwatched, pool?.close(), log.close(), deadLetters.close()]);
      journalClosing = true;
      await store?.close();
    })();

  // Journaled work this process did not accept: at start-up, when room
  // frees up, and (with a shared journal) that of servers that died.
  takeover = store && new JournalTakeover({
    store,
    name: store.path,
    definitions,
    runner,
    deadLetter: (record: DeadLetter) => deadLetters.append(deadLetterLine(record)),
    known: (id) => registry.has(id),
    intervalMs: config.taskStore?.kind === "postgres" ? config.takeoverIntervalMs : 0,
  });
  await takeover?.start(options);
  opened.move(); // started: from now on the app's shutdown closes them
  // Renamed away or deleted without a signal (logrotate's default): reopened within a second.
  for (const [file, writer] of files) {
    watches.push(await watchFile(file, async () => void await reopens.reopen(file, writer)));
  }
  // The journal's files are not reopened: a replaced one refuses new work.
  if (store instanceof SqliteTaskStore) watches.push(await store.watchFiles());

  const shutdown = (server: { shutdown(): Promise<void> }, options: ShutdownOptions) =>
    shutdownApp(
      {
        logger,
        runner,
        requests,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        closeTimeoutMs,
        deadLetterFile: config.deadLetterFile,
        journal: store?.path,
        beginDrain() {
          draining = true;
          stopping.abort();
          takeover?.[Symbol.dispose]();
          // An idle server's stop writes nothing: no task can be running at a kill.
          // Not awaited: the store's close comes after it (a commit queue, or awaited).
          if (runner.pending > 0 || requests.count > 0) {
            void store?.markStopping().then(
              () => logger.debug("Journaled that the server stops: a kill counts no task's crash"),
              (error) =>
                logger.warn(
                  "Cannot journal that the server stops: {error}; if it is killed before its drain ends, the tasks then running count a crash",
                  { error },
                ),
            );
          }
        },
        closeService,
        closeFiles,
        journalClosing: () => journalClosing,
        deferring,
      },
      server,
      options,
    );

  return {
    handler,
    runner,
    log,
    deadLetters,
    registry,
    metrics,
    submit,
    get inFlight() {
      return requests.count;
    },
    async reopenFiles() {
      const reopened = await Promise.allSettled(
        files.map(([file, writer]) => reopens.reopen(file, writer)),
      );
      // A SIGUSR2 sent by hand with nothing moved is answered, not met with silence.
      if (reopened.every((result) => result.status === "fulfilled" && !result.value)) {
        logger.info("Nothing to reopen: {files} still name the files open", {
          files: files.map(([file]) => file),
        });
      }
    },
    async shutdown(server, options = {}) {
      try {
        return await shutdown(server, options);
      } catch (error) {
        // Never rejects: the process must still exit (with 1), not hang draining.
        logger.error("Shutdown failed: {error}", { error });
        await closeFiles().catch(() => {});
        return 1;
      }
    },
    async [Symbol.asyncDispose]() {
      stopping.abort();
      await runner.drain();
      await closeFiles();
    },
  };
}
