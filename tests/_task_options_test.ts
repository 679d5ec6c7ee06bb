import { throws } from "node:assert/strict";
import { checkSharedLimits } from "../lib/_task_options.ts";
import { defineTask } from "../lib/mod.ts";

const send = (to: string) => void to;

Deno.test("checkSharedLimits: tasks counting against one key's places must give it the same limits", () => {
  const welcome = defineTask("welcome", send, { concurrencyKey: "mail", concurrency: 4 });
  const reset = defineTask("reset", send, { concurrencyKey: "mail", concurrency: 2 });
  throws(
    () => checkSharedLimits([welcome, reset], "make the app"),
    new TypeError(
      `Cannot make the app: tasks "welcome" (concurrency 4) and "reset" (concurrency 2) count against the places of "mail" with different limits; give them the same`,
    ),
  );
  const shared = defineTask("digest", send, { concurrencyKey: "mail", sharedConcurrency: 4 });
  throws(() => checkSharedLimits([welcome, shared], "x"), /\(sharedConcurrency 4\)/);
  // A key that is another task's name is that task's places.
  const mail = defineTask("mail", send, { concurrency: 3 });
  throws(() => checkSharedLimits([mail, welcome], "x"), /"mail" \(concurrency 3\)/);
});

Deno.test("checkSharedLimits: the same limits, a key without a limit, and names apart pass", () => {
  checkSharedLimits([
    defineTask("welcome", send, { concurrencyKey: "mail", concurrency: 4 }),
    defineTask("reset", send, { concurrencyKey: "mail", concurrency: 4 }),
    defineTask("digest", send, { concurrencyKey: "mail" }), // no limit: counts against nothing
    defineTask("report", send, { concurrency: 1 }),
    defineTask("export", send, { concurrency: 2 }),
    defineTask("report-shared", send, { concurrencyKey: "report" }),
    defineTask("plain", send),
  ], "make the app");
});
