import { deepEqual, equal, match, rejects } from "node:assert/strict";
import {
  AdmissionError,
  type Config,
  createApp,
  defineTask,
  delay,
  DuplicateGroupError,
  groupIdForKey,
  readConfig,
  type Service,
  type ServiceParts,
  TaskGroup,
} from "../lib/mod.ts";
import { captureLogs, tempDir } from "./_helpers.ts";
import { postgresTest } from "./_postgres.ts";

function config(dir: string, env: Record<string, string> = {}): Config {
  const all: Record<string, string> = {
    LOG_FILE: `${dir}/log.txt`,
    DEAD_LETTER_FILE: `${dir}/dead-letter.jsonl`,
    ...env,
  };
  return readConfig((name) => all[name]);
}

/**
 * A charge whose receipt is its follow-up, submitted through its `this` with
 * a key made from the charge's own id; the charge can be held after
 * submitting it. Defined outside the service, as a module's tasks are.
 */
function shop() {
  const receipts: string[] = [];
  const charges: number[] = [];
  const receipted = Promise.withResolvers<void>();
  let held = false;
  const receipt = defineTask("receipt", (order: string) => {
    receipts.push(order);
    receipted.resolve();
  });
  const charge = defineTask("charge", async function (order: string) {
    charges.push(this.attempt);
    const followUp = new TaskGroup({ id: groupIdForKey(`${this.id} receipt`) });
    await this.submit(followUp.add(receipt, order)).catch((error) => {
      if (!(error instanceof DuplicateGroupError)) throw error;
    });
    if (held) await delay(60_000, { signal: this.signal }); // until shutdown stops it
  });
  const service = (): Service => ({ routes: [], tasks: [charge, receipt] });
  return {
    receipts,
    charges,
    charge,
    receipted: receipted.promise,
    service,
    hold: () => void (held = true),
  };
}

/** A charge stopped after its receipt was sent, then resumed: the receipt is not sent again. */
async function followUpOnce(dir: string, taskStore: string): Promise<void> {
  const durable = config(dir, { TASK_STORE: taskStore });
  const first = shop();
  first.hold();
  const group = new TaskGroup().add(first.charge, "order-7");
  {
    const app = await createApp(durable, { service: first.service });
    await app.submit(group);
    await first.receipted;
    const status = app.registry.status(groupIdForKey(`${group.id}/0 receipt`));
    equal(status?.tasks[0]?.state, "done", "the follow-up is in GET /tasks/{id}");
    // Stopped while the charge runs on after submitting its receipt, as a crash would.
    const server = { shutdown: () => Promise.resolve() };
    equal(await app.shutdown(server, { signal: AbortSignal.abort() }), 1);
  }
  deepEqual(first.receipts, ["order-7"]);

  // Resumed, the charge submits its receipt again: the journal knows the key.
  const second = shop();
  await using app = await createApp(durable, { service: second.service });
  await app.runner.idle();
  deepEqual(second.charges, [2]);
  deepEqual(second.receipts, [], "the receipt was sent once");
  equal(app.registry.status(group.id)?.state, "done");
}

Deno.test("App.submit and a task's this.submit: its follow-up is journaled, and submitted once however often the task is resumed", async () => {
  await using dir = await tempDir();
  await followUpOnce(dir.path, `sqlite:${dir.path}/tasks.db`);
});

postgresTest("A task's this.submit on PostgreSQL: its follow-up is submitted once", async (db) => {
  await using dir = await tempDir();
  await followUpOnce(dir.path, db.url);
});

Deno.test("App.submit refuses, with nothing run: a known given id, a full backlog, a drain that has ended", async () => {
  await using dir = await tempDir();
  const ran: string[] = [];
  const release = Promise.withResolvers<void>();
  const hold = defineTask("hold", async (word: string) => {
    ran.push(word);
    await release.promise;
  });
  const note = defineTask("note", (word: string) => void ran.push(word));
  const service = (): Service => ({ routes: [], tasks: [hold, note] });
  await using app = await createApp(config(dir.path, { MAX_PENDING: "2" }), { service });

  const id = groupIdForKey("nightly 2026-12-03");
  await app.submit(new TaskGroup({ id }).add(hold, "held"));
  await rejects(app.submit(new TaskGroup({ id }).add(note, "again")), DuplicateGroupError);
  await rejects(
    app.submit(new TaskGroup().add(note, "b").add(note, "c")),
    (error) => error instanceof AdmissionError && error.reason === "backlog_full",
  );
  // While the drain waits for "held", a group is still accepted, and waited for.
  const drained = app.runner.drain();
  await app.submit(new TaskGroup().add(note, "during the drain"));
  release.resolve();
  deepEqual(await drained, { abandoned: 0 });
  await rejects(
    app.submit(new TaskGroup().add(note, "late")),
    (error) => error instanceof AdmissionError && error.reason === "draining",
  );
  deepEqual(ran, ["held", "during the drain"]);
  equal(app.registry.status(id)?.state, "done", "its status is kept");
  await rejects(app.submit(new TaskGroup({ id }).add(note, "done")), DuplicateGroupError);
});

Deno.test("App.submit: a task's follow-up submitted while the shutdown drains runs in that drain", async () => {
  await using dir = await tempDir();
  const durable = config(dir.path, { TASK_STORE: `sqlite:${dir.path}/tasks.db` });
  const shop1 = shop();
  const charging = Promise.withResolvers<void>();
  const charged = Promise.withResolvers<void>();
  // The charge is still on its way when the SIGTERM comes; then it submits its receipt.
  const slow = defineTask("slow-charge", async (order: string) => {
    charging.resolve();
    await charged.promise;
    await submitted!(new TaskGroup().add(shop1.charge, order));
  });
  let submitted: ServiceParts["submit"] | undefined;
  const service = (parts: ServiceParts): Service => {
    submitted = parts.submit;
    const made = shop1.service();
    return { ...made, tasks: [...made.tasks, slow] };
  };
  const app = await createApp(durable, { service });
  await app.submit(new TaskGroup().add(slow, "order-9"));
  await charging.promise;
  const exit = app.shutdown({ shutdown: () => Promise.resolve() });
  charged.resolve();
  // Before: the follow-up met AdmissionError("draining"), the charge failed, was retried, and
  // was dead-lettered as failed once its retries were spent.
  equal(await exit, 0);
  deepEqual(shop1.receipts, ["order-9"]);
});

Deno.test("App.submit in durable mode takes only the service's tasks, and none while it is being made", async () => {
  await using dir = await tempDir();
  const durable = config(dir.path, { TASK_STORE: `sqlite:${dir.path}/tasks.db` });
  const ran: string[] = [];
  const listed = defineTask("listed", (word: string) => void ran.push(word));
  const unlisted = defineTask("unlisted", (word: string) => void ran.push(word));
  let early: Promise<unknown> | undefined;
  const service = ({ submit }: ServiceParts): Service => {
    early = submit(new TaskGroup().add(listed, "early")).catch((error) => error);
    return { routes: [], tasks: [listed] };
  };
  {
    await using app = await createApp(durable, { service });
    const error = await early;
    equal(error instanceof TypeError, true);
    match(String(error), /Cannot submit group "[^"]+": the service is being made/);
    const group = new TaskGroup().add(listed, "listed").add(unlisted, "unlisted");
    await rejects(
      app.submit(group),
      /Cannot journal task "unlisted": it is not one of the service's tasks/,
    );
    // A plain function cannot be journaled either.
    await rejects(app.submit(new TaskGroup().add(() => void ran.push("plain"))), TypeError);
    await app.runner.idle();
    equal(app.registry.status(group.id), undefined);
  }
  await using app = await createApp(durable, { service: () => ({ routes: [], tasks: [listed] }) });
  await app.runner.idle();
  deepEqual(ran, [], "nothing was journaled");
});

Deno.test("App.submit in memory mode while the service is being made: its work runs, and no runner hook fails", async () => {
  await using dir = await tempDir();
  await using logs = await captureLogs();
  const ran: string[] = [];
  const early = defineTask("early", (word: string) => void ran.push(word));
  await using app = await createApp(config(dir.path), {
    service: async ({ submit }) => {
      const group = new TaskGroup().add(early, "made");
      await submit(group);
      await group.settled(); // settled before the app has started
      return { routes: [], tasks: [early] };
    },
  });
  deepEqual(ran, ["made"]);
  equal(app.runner.stats.succeeded, 1);
  // Before, the runner's onGroupSettled reached for the journal's takeover
  // before it was declared: "Cannot access 'takeover' before initialization".
  deepEqual(logs.records.filter((record) => record.level === "error").map((r) => r.message), []);
});

Deno.test("ServiceParts.stopping aborts when shutdown begins: a service's own source of work stops, what it submitted runs", async () => {
  await using dir = await tempDir();
  const ran: number[] = [];
  const release = Promise.withResolvers<void>();
  const tick = defineTask("tick", async (n: number) => {
    ran.push(n);
    if (n === 1) await release.promise;
  });
  let stoppedWhile: { pending: number; draining: boolean } | undefined;
  const submitted: Promise<void>[] = [];
  const service = ({ submit, stopping }: ServiceParts): Service => {
    // A source of work of its own (a timer, a queue it consumes), stopped by the signal.
    submitted.push(submit(new TaskGroup().add(tick, 1)), submit(new TaskGroup().add(tick, 2)));
    stopping.addEventListener("abort", () => {
      stoppedWhile = { pending: app.runner.pending, draining: app.runner.draining };
    });
    return { routes: [], tasks: [tick] };
  };
  const app = await createApp(config(dir.path), { service });
  await Promise.all(submitted);
  const exit = app.shutdown({ shutdown: () => Promise.resolve() });
  deepEqual(
    stoppedWhile,
    { pending: 1, draining: false },
    "before the drain, tick 1 still running",
  );
  release.resolve();
  equal(await exit, 0);
  deepEqual(ran, [1, 2]);

  // A start that fails after the service was made aborts it too.
  let aborted = false;
  await rejects(
    createApp(config(dir.path), {
      service: ({ stopping }) => {
        stopping.addEventListener("abort", () => void (aborted = true));
        return { routes: [], tasks: [tick, defineTask("tick", () => {})] };
      },
    }),
    /two are named "tick"/,
  );
  equal(aborted, true);
});
