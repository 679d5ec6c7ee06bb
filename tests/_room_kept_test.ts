// Room kept for deferred work (lib/_room_kept.ts), through createApp: a
// journal holding more than MAX_PENDING, and requests that would have kept the
// backlog above half, so that the deferred work never resumed.
import { deepEqual, equal, match, rejects } from "node:assert/strict";
import {
  AdmissionError,
  type Config,
  createApp,
  defineTask,
  readConfig,
  route,
  SqliteTaskStore,
  TaskGroup,
} from "../lib/mod.ts";
import { gatedTask, tempDir, turn } from "./_helpers.ts";

/**
 * A journal of one-task groups d1, d2 … (resumed in that order: by id), each
 * made by its `adds`, and a configuration of 4 pending at most.
 */
async function journaled(dir: string, adds: ((group: TaskGroup) => TaskGroup)[]): Promise<Config> {
  const path = `${dir}/tasks.db`;
  {
    using store = SqliteTaskStore.open(path);
    for (const [index, add] of adds.entries()) {
      await store.enqueue(add(new TaskGroup({ id: `d${index + 1}` })));
    }
  }
  const env: Record<string, string> = {
    LOG_FILE: `${dir}/log.txt`,
    DEAD_LETTER_FILE: `${dir}/dead-letter.jsonl`,
    TASK_STORE: `sqlite:${path}`,
    MAX_PENDING: "4",
  };
  return readConfig((name) => env[name]);
}

Deno.test("while deferred work waits, a request gets only the first half of the backlog: the older work resumes", async () => {
  await using dir = await tempDir();
  const work = gatedTask("work", {});
  const labels = ["d1", "d2", "d3", "d4", "d5", "d6"];
  const config = await journaled(
    dir.path,
    labels.map((label) => (group: TaskGroup) => group.add(work.task, label)),
  );
  const routes = [
    route("POST", "/work/:label", (_request, { params, group }) => {
      group.add(work.task, params.label);
      return Response.json({ id: group.id }, { status: 202 });
    }),
  ];
  await using app = await createApp(config, {
    service: () => ({ routes, tasks: [work.task] }),
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.handler);
  // Turns of the event loop until the task just ended has settled.
  const pendingAtMost = async (count: number) => {
    while (app.runner.pending > count) await turn();
  };
  const post = (label: string) =>
    fetch(`http://127.0.0.1:${server.addr.port}/work/${label}`, { method: "POST" });
  while (work.started.length < 4) await work.nextStart(); // each after its journaled attempt mark
  deepEqual([work.started, app.runner.pending], [["d1", "d2", "d3", "d4"], 4], "two deferred");

  work.end("d1");
  await pendingAtMost(3);
  const refused = await post("n1");
  equal(refused.status, 503);
  const body = await refused.json();
  equal(body.error, "backlog_full");
  match(
    body.detail,
    /half the backlog is kept for deferred work from the journal \(3 of 4 pending, 2 for new work\)/,
  );
  equal(app.runner.pending, 3, "nothing of it stays accepted");

  work.end("d2"); // half free: the deferred work resumes, and fills the backlog
  while (!work.started.includes("d6")) await work.nextStart();
  deepEqual(work.started, ["d1", "d2", "d3", "d4", "d5", "d6"]);
  work.end("d3");
  await pendingAtMost(3);
  const accepted = await post("n2");
  equal(accepted.status, 202, "nothing deferred: the whole backlog again");
  await accepted.body?.cancel();
  for (const label of ["d4", "d5", "d6", "n2"]) {
    while (!work.started.includes(label)) await work.nextStart();
    work.end(label);
  }
  await app.runner.idle();
});

Deno.test("while deferred work waits, App.submit gets only the first half too; a task's follow-up takes any room", async () => {
  await using dir = await tempDir();
  const work = gatedTask("work", {});
  const release = Promise.withResolvers<void>();
  const followedUp = Promise.withResolvers<unknown>();
  // A task that submits a follow-up once released: it continues accepted work.
  const chain = defineTask("chain", async function (label: string) {
    await release.promise;
    await this.submit(new TaskGroup().add(work.task, `${label} next`))
      .then(() => followedUp.resolve("accepted"), followedUp.resolve);
  });
  const config = await journaled(dir.path, [
    (group) => group.add(chain, "d1"),
    ...["d2", "d3", "d4", "d5", "d6"].map((label) => (group: TaskGroup) =>
      group.add(work.task, label)
    ),
  ]);
  await using app = await createApp(config, {
    service: () => ({ routes: [], tasks: [work.task, chain] }),
  });
  while (work.started.length < 3) await work.nextStart();
  deepEqual([work.started, app.runner.pending], [["d2", "d3", "d4"], 4], "two deferred");

  work.end("d2");
  while (app.runner.pending > 3) await turn();
  await rejects(app.submit(new TaskGroup().add(work.task, "n1")), (error) => {
    equal(error instanceof AdmissionError && error.reason, "backlog_full");
    match(String(error), /half the backlog is kept for deferred work from the journal \(3 of 4/);
    return true;
  });
  equal(app.runner.pending, 3, "nothing of it stays accepted");

  release.resolve(); // the follow-up takes the fourth place, above half
  equal(await followedUp.promise, "accepted");
  for (const label of ["d1 next", "d3", "d4", "d5", "d6"]) {
    while (!work.started.includes(label)) await work.nextStart();
    work.end(label);
  }
  await app.runner.idle();
  deepEqual(work.started, ["d2", "d3", "d4", "d1 next", "d5", "d6"]);
});
