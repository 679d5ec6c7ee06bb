// runReplay in this process, letters given as text; and replay.ts as a
// process, replaying what main.ts abandoned at a SIGTERM.
import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  type DeadLetter,
  defineTask,
  runReplay,
  type RunReplayOptions,
  type ServiceParts,
  type TaskContext,
} from "../lib/mod.ts";
import { childEnv, lines, serverPermissions, spawnServer, tempDir } from "./_helpers.ts";

type Letter = Pick<DeadLetter, "reason" | "task" | "taskId" | "groupId" | "args">;

const letter = (task: string, taskId: string, args: unknown[], reason = "failed"): Letter => ({
  reason: reason as DeadLetter["reason"],
  task,
  taskId,
  groupId: taskId.slice(0, taskId.lastIndexOf("/")),
  args,
});

const text = (letters: readonly unknown[]): string =>
  letters.map((one) => JSON.stringify(one)).join("\n") + "\n";

/** Runs the replay of `input` with a recording service; what it logged and ran. */
async function replay(
  input: string,
  { env = {}, ...options }: Omit<RunReplayOptions, "env"> & { env?: Record<string, string> } = {},
) {
  await using dir = await tempDir();
  const ran: string[] = [];
  const record = defineTask("record", function (this: TaskContext, value: string) {
    ran.push(`${this.id} ${value}`);
  });
  const fail = defineTask("fail", (why: string) => {
    throw new Error(why);
  }, { retries: 1, retryDelay: 0 });
  const logged: Record<string, unknown>[] = [];
  const vars: Record<string, string> = {
    LOG_FILE: `${dir.path}/log.txt`,
    DEAD_LETTER_FILE: `${dir.path}/dl.jsonl`,
    WORKERS: "0",
    ...env,
  };
  const code = await runReplay({
    input: new Blob([input]).stream(),
    args: [],
    env: (name) => vars[name],
    logTo: (line) => void logged.push(JSON.parse(line)),
    service: () => ({ routes: [], tasks: [record, fail] }),
    ...options,
  });
  // Not made when the replay fails before it opens its files.
  const written = await Deno.readTextFile(`${dir.path}/dl.jsonl`).catch(() => "");
  const deadLetters = lines(written).map((line) => JSON.parse(line) as DeadLetter);
  return { code, ran, logged, deadLetters, messages: logged.map(({ message }) => message) };
}

Deno.test("runReplay() runs each group's letters in their order, each task keeping its id", async () => {
  const { code, ran, deadLetters, messages } = await replay(
    text([
      letter("record", "g/3", ["fourth"]),
      letter("record", "g/1", ["second"], "shutdown"),
      letter("record", "h/0", ["other"]),
    ]),
    { env: { TASK_STORE: "sqlite:/nonexistent/dir/tasks.db" } },
  );
  equal(code, 0);
  deepEqual(ran.filter((line) => line.startsWith("g/")), ["g/1 second", "g/3 fourth"]);
  ok(ran.includes("h/0 other"));
  deepEqual(deadLetters, []);
  deepEqual(messages, [
    "Replaying in this process's memory: TASK_STORE is not opened, so a replay that dies leaves its letters to be replayed again",
    "Replaying 3 tasks of 2 groups",
    "Replayed 3 tasks: every one done",
  ]);
});

Deno.test("runReplay() dead-letters a task that fails again, with its id, and returns 1", async () => {
  const { code, ran, deadLetters, logged } = await replay(text([
    letter("fail", "g/0", ["still down"]),
    letter("record", "g/1", ["after it"]),
  ]));
  equal(code, 1);
  deepEqual(ran, ["g/1 after it"], "a failed task does not stop the rest of its group");
  equal(deadLetters.length, 1);
  const [again] = deadLetters;
  deepEqual([again?.reason, again?.taskId, again?.attempts, again?.error], [
    "failed",
    "g/0",
    2,
    "still down",
  ]);
  const summary = logged.at(-1);
  deepEqual([summary?.done, summary?.failed, summary?.abandoned, summary?.notRun], [1, 1, 0, 0]);
});

Deno.test("runReplay() leaves out crash loops unless --reason names them; refuses unreadable and unknown reasons", async () => {
  const input = text([
    letter("record", "g/0", ["looped"], "crash_loop"),
    letter("record", "h/0", ["failed"]),
  ]);
  const defaults = await replay(input);
  equal(defaults.code, 0);
  deepEqual(defaults.ran, ["h/0 failed"]);
  equal(
    defaults.logged[0]?.message,
    "Left out {letters} letters for their reason ({reasons}): --reason names them".replace(
      "{letters}",
      "1",
    ).replace("{reasons}", '{"crash_loop":1}'),
  );
  const chosen = await replay(input, { args: ["--reason=crash_loop"] });
  deepEqual(chosen.ran, ["g/0 looped"]);
  for (
    const [args, pattern] of [
      [["--reason", "unreadable"], /Cannot replay unreadable letters/],
      [["--reason=failed,lost"], /--reason "lost" is not one of failed, shutdown, crash_loop/],
      [["--all"], /Cannot replay: Unknown option '--all'/],
      [
        ["replaying.jsonl"],
        /^Cannot replay "replaying.jsonl": give the letters on standard input \(deno task replay < replaying.jsonl\)$/,
      ],
    ] as const
  ) {
    const refused = await replay(input, { args });
    equal(refused.code, 1);
    deepEqual(refused.ran, []);
    match(String(refused.logged[0]?.error), pattern);
  }
});

Deno.test("runReplay() --dry-run says what would be replayed, and runs nothing", async () => {
  const { code, ran, logged } = await replay(
    text([
      letter("record", "g/0", ["a"]),
      letter("record", "g/1", ["b"], "shutdown"),
      letter("fail", "h/0", ["c"]),
      letter("record", "i/0", ["d"], "crash_loop"),
    ]),
    { args: ["--dry-run"] },
  );
  equal(code, 0);
  deepEqual(ran, []);
  const said = logged.at(-1);
  deepEqual([said?.tasks, said?.groups, said?.names], [3, 2, { record: 2, fail: 1 }]);
  match(String(said?.message), /^Would replay 3 tasks of 2 groups .*--dry-run: none was run$/);
});

Deno.test("runReplay() makes the service with stopping aborted: it starts no work of its own", async () => {
  let stopping: AbortSignal | undefined;
  const { code, ran } = await replay(text([letter("record", "g/0", ["a"])]), {
    service: (parts) => {
      stopping = parts.stopping;
      return { routes: [], tasks: [] };
    },
  });
  equal(stopping?.aborted, true);
  equal(code, 1, "its letter names a task this service does not define");
  deepEqual(ran, []);
});

Deno.test("runReplay() runs nothing from input that is not all dead letters, naming the lines", async () => {
  const input = text([letter("record", "g/0", ["fine"])]) +
    '{"reason":"failed" "task":"record"}\n\n' +
    text([{ ...letter("record", "g/1", []), taskId: "other/1" }, {
      ...letter("record", "g/2", []),
      args: "x",
    }]);
  const { code, ran, logged } = await replay(input);
  equal(code, 1);
  deepEqual(ran, []);
  match(
    String(logged[0]?.error),
    /^Cannot read dead letters: line 2 \(Expected ',' or '}' after property value in JSON at position 19\), line 4 \(taskId "other\/1" is not "<groupId>\/<index>"\), line 5 \(args: Invalid input: expected array, received string\) are not dead letters; nothing was replayed$/,
  );
});

Deno.test("runReplay() skips letters a kill cut off as they were written, naming their lines, and runs the rest", async () => {
  const whole = JSON.stringify(letter("record", "g/1", ['a "quoted" \\ é']));
  // Cut anywhere, a letter's start is JSON that ends early.
  for (const end of [11, 40, whole.length - 3, whole.length - 1]) {
    const input = text([letter("record", "g/0", ["first"])]) + whole.slice(0, end) + "\n" +
      text([letter("record", "g/2", ["third"])]) + whole.slice(0, end); // the last line, too
    const { code, ran, logged } = await replay(input);
    equal(code, 0, `cut at ${end}`);
    deepEqual(ran.sort(), ["g/0 first", "g/2 third"]);
    const skipped = logged.find(({ message }) => String(message).startsWith("Skipped"));
    equal(skipped?.level, "WARN");
    deepEqual(skipped?.lines, [2, 4]);
  }
});

Deno.test("runReplay() runs the letters of known tasks when some name none, and returns 1", async () => {
  const { code, ran, logged } = await replay(text([
    letter("gone", "g/0", []),
    letter("record", "g/1", ["kept"]),
    letter("record", "g/1", ["kept again"]),
  ]));
  equal(code, 1);
  deepEqual(ran, ["g/1 kept again"], "a repeated task id runs once, as its last letter says");
  const unknown = logged.find(({ names }) => names !== undefined);
  deepEqual(unknown?.names, { gone: 1 });
  ok(logged.some(({ repeated }) => repeated === 1));
});

Deno.test("runReplay() submits no more than MAX_PENDING lets wait: later groups wait for room", async () => {
  // The first two hold until both run: without waiting for room, the third is refused.
  const gate = Promise.withResolvers<void>();
  let running = 0;
  let most = 0;
  const held: string[] = [];
  const hold = defineTask("hold", async (value: string) => {
    most = Math.max(most, ++running);
    if (running === 2) gate.resolve();
    await gate.promise;
    running--;
    held.push(value);
  });
  const groups = Array.from({ length: 20 }, (_, i) => letter("hold", `g${i}/0`, [`${i}`]));
  const { code } = await replay(text(groups), {
    env: { MAX_PENDING: "2" },
    service: () => ({ routes: [], tasks: [hold] }),
  });
  equal(code, 0);
  equal(held.length, 20);
  equal(most, 2);
});

Deno.test("runReplay() stops on a signal: running tasks drain, the rest are dead letters again or not run", async () => {
  await using dir = await tempDir();
  const started = Promise.withResolvers<void>();
  const hold = defineTask("hold", async function (this: TaskContext, _value: string) {
    started.resolve();
    await new Promise((_, reject) => this.signal.addEventListener("abort", reject));
  });
  const stop = new AbortController();
  const logged: Record<string, unknown>[] = [];
  const vars: Record<string, string> = {
    LOG_FILE: `${dir.path}/log.txt`,
    DEAD_LETTER_FILE: `${dir.path}/dl.jsonl`,
    WORKERS: "0",
    MAX_PENDING: "1",
    SHUTDOWN_TIMEOUT_MS: "0",
  };
  const running = runReplay({
    input: new Blob([text([letter("hold", "a/0", ["x"]), letter("hold", "b/0", ["y"])])]).stream(),
    args: [],
    env: (name) => vars[name],
    logTo: (line) => void logged.push(JSON.parse(line)),
    service: (_parts: ServiceParts) => ({ routes: [], tasks: [hold] }),
    signal: stop.signal,
  });
  await started.promise;
  stop.abort();
  equal(await running, 1);
  const deadLetters = lines(await Deno.readTextFile(`${dir.path}/dl.jsonl`))
    .map((line) => JSON.parse(line) as DeadLetter);
  deepEqual(deadLetters.map(({ reason, taskId }) => [reason, taskId]), [["shutdown", "a/0"]]);
  const summary = logged.at(-1);
  deepEqual([summary?.done, summary?.abandoned, summary?.notRun], [0, 1, 1]);
});

/** `replay.ts` as a child process, its files in `dir`, given `letters` on its stdin. */
async function spawnReplay(
  dir: string,
  letters: string,
  env: Record<string, string> = {},
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissions(dir), new URL("../replay.ts", import.meta.url).pathname],
    env: childEnv(dir, env),
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await new Blob([letters]).stream().pipeTo(child.stdin);
  return child;
}

Deno.test("replay.ts runs again the notifications main.ts abandoned at SIGTERM", async () => {
  await using dir = await tempDir();
  {
    await using server = await spawnServer(dir.path, {
      SEND_DELAY_MS: "60000",
      SHUTDOWN_TIMEOUT_MS: "0",
    });
    for (const email of ["a@example.com", "b@example.com"]) {
      const response = await fetch(`${server.url}/send-notification/${email}`, { method: "POST" });
      await response.body?.cancel();
      equal(response.status, 202);
    }
    server.child.kill("SIGTERM");
    equal((await server.status()).code, 1);
  }
  equal(await Deno.readTextFile(`${dir.path}/log.txt`), "");
  const letters = await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`);
  equal(lines(letters).length, 2);
  await Deno.rename(`${dir.path}/dead-letter.jsonl`, `${dir.path}/replaying.jsonl`);
  const child = await spawnReplay(dir.path, letters);
  const { code, stderr } = await child.output();
  equal(code, 0, new TextDecoder().decode(stderr));
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)).sort(), [
    "notification for a@example.com: some notification",
    "notification for b@example.com: some notification",
  ]);
  equal(await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`), "");
});

Deno.test("replay.ts is not ended by SIGUSR2 (logrotate's, meant for the server): it reopens its files", async () => {
  await using dir = await tempDir();
  const child = await spawnReplay(
    dir.path,
    text([letter("send-notification", "g/0", ["a@example.com", "hi"])]),
    { SEND_DELAY_MS: "60000", SHUTDOWN_TIMEOUT_MS: "0" },
  );
  // Its signal listeners are in place once it says it is replaying.
  let said = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  while (!said.includes("Replaying 1 tasks")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`replay.ts ended: ${said}`);
    said += value;
  }
  child.kill("SIGUSR2");
  child.kill("SIGTERM"); // only now does it end: a drain of 0 ms stops the task
  while (!(await reader.read()).done);
  const status = await child.status;
  deepEqual([status.signal, status.code], [null, 1], "ended by the SIGTERM, not the SIGUSR2");
  const [again] = lines(await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`));
  deepEqual(
    [JSON.parse(again ?? "{}").reason, JSON.parse(again ?? "{}").taskId],
    ["shutdown", "g/0"],
  );
});
