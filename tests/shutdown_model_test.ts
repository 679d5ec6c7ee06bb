// A property test of the graceful drain, on the real app and a real server:
// a burst of requests whose tasks wait a few milliseconds, a shutdown begun
// after a random number of answers, and a deadline that passes at once, a
// few answers later, or never. Whatever the timing: every 202's task wrote
// its line or is in the dead letters (never lost, never twice in one place;
// in both only if it was abandoned while it ran); every other answer is 503
// shutting_down (or the connection was refused once the listener closed);
// the exit code says whether any task was abandoned. In durable mode, the
// journal holds what the dead letters would.
import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { reset } from "@logtape/logtape";
import { createApp, readConfig, SqliteTaskStore } from "../lib/mod.ts";
import { lines, tempDir } from "./_helpers.ts";

const scenario = fc.record({
  requests: fc.integer({ min: 1, max: 24 }),
  sendDelayMs: fc.integer({ min: 0, max: 15 }),
  /** Answers received before the shutdown begins. */
  shutdownAfter: fc.nat(24),
  /** Answers received after it before the deadline passes (undefined: it never does). */
  giveUpAfter: fc.option(fc.nat(8), { nil: undefined }),
  /** Requests sent just after the shutdown begins. */
  late: fc.nat(4),
  /** Durable mode: what is abandoned stays in the journal instead of the dead letters. */
  durable: fc.boolean(),
});

const MESSAGE = 'say "hi"\nthen \\ and \u2028, \x85';

interface Outcome {
  email: string;
  status: number;
  code: string | undefined;
}

/** POSTs a notification; a refused connection is status 0. */
async function post(url: string, email: string, answered: () => void): Promise<Outcome> {
  try {
    // A message with what a JSON line must escape: the dead letters must still parse back.
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: MESSAGE }),
    });
    const body = await response.json();
    return { email, status: response.status, code: body.error };
  } catch {
    return { email, status: 0, code: "refused" };
  } finally {
    answered();
  }
}

Deno.test("shutdown model: a 202's task is done or dead-lettered, whenever the shutdown and its deadline come", async () => {
  await reset(); // the app's own logs stay quiet
  await using dir = await tempDir();
  let run = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const { requests, sendDelayMs, shutdownAfter, giveUpAfter, late, durable } = s;
      const files = `${dir.path}/${run++}`;
      const vars: Record<string, string> = {
        LOG_FILE: `${files}-log.txt`,
        DEAD_LETTER_FILE: `${files}-dead.jsonl`,
        SEND_DELAY_MS: String(sendDelayMs),
        ...(durable && { TASK_STORE: `sqlite:${files}-tasks.db` }),
      };
      const app = await createApp(readConfig((name) => vars[name]));
      const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.handler);
      const url = `http://127.0.0.1:${server.addr.port}/send-notification`;
      const giveUp = new AbortController();
      let answered = 0;
      let exit: Promise<number> | undefined;
      let shutdownAt = 0;
      const answer = (): void => {
        answered++;
        if (exit === undefined && answered >= shutdownAfter) begin();
        if (exit && giveUpAfter !== undefined && answered >= shutdownAt + giveUpAfter) {
          giveUp.abort();
        }
      };
      const sent: Promise<Outcome>[] = [];
      const send = (email: string): void => void sent.push(post(`${url}/${email}`, email, answer));
      const begin = (): void => {
        shutdownAt = answered;
        exit = app.shutdown(server, { signal: giveUp.signal });
        if (giveUpAfter === 0) giveUp.abort();
        for (let i = 0; i < late; i++) send(`late${i}@x.example`);
      };
      if (shutdownAfter === 0) begin();
      for (let i = 0; i < requests; i++) send(`u${i}@x.example`);
      // Late requests join `sent` while the first ones are answered.
      let outcomes: Outcome[] = [];
      while (outcomes.length < sent.length) outcomes = await Promise.all(sent);
      exit ??= app.shutdown(server, { signal: giveUp.signal });
      const exitCode = await exit;
      await server.shutdown().catch(() => {}); // a shutdown given up leaves the listener to main
      const logged = lines(await Deno.readTextFile(vars.LOG_FILE as string));
      const dead = lines(await Deno.readTextFile(vars.DEAD_LETTER_FILE as string))
        .map((line) => JSON.parse(line));
      // In durable mode the abandoned are the journal's unfinished tasks, as they would be
      // stored for a dead letter (args and the attempts before the restart).
      if (durable) {
        using journal = SqliteTaskStore.open(`${files}-tasks.db`);
        equal(dead.length, 0, "durable mode keeps them in the journal");
        dead.push(...journal.recover().map((task) => ({ ...task, reason: "shutdown" })));
      }
      ok(dead.every((letter) => letter.reason === "shutdown"), "only abandoned at shutdown");
      for (const { email, status, code } of outcomes) {
        const done = logged.filter((line) => line.startsWith(`notification for ${email}:`)).length;
        const letters = dead.filter((letter) => letter.args[0] === email);
        for (const letter of letters) equal(letter.args[1], MESSAGE, "the message, as sent");
        const abandoned = letters.length;
        if (status === 202) {
          ok(
            done <= 1 && abandoned <= 1 && done + abandoned >= 1,
            `${email}: ${done} ${abandoned}`,
          );
          // In both only if abandoned while it ran (its line on its way): the letter says it
          // had started, as README says.
          if (done + abandoned === 2) {
            ok(letters[0].attempts >= 1 && (durable || letters[0].startedAt));
          }
        } else {
          ok(status === 503 && code === "shutting_down" || code === "refused", `${status} ${code}`);
          deepEqual([done, abandoned], [0, 0], `${email} was refused, and did nothing`);
        }
      }
      equal(exitCode, dead.length > 0 ? 1 : 0, "exit code");
    }),
    { numRuns: 40 },
  );
});
