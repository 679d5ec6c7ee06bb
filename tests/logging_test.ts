import { equal, ok } from "node:assert/strict";
import { getLogger, reset } from "@logtape/logtape";
import { configureLogging } from "../lib/mod.ts";

const hostile = "a\nb\r\u2028c\x1b[2J\x9b2J\u202ed";

Deno.test("configureLogging(): JSON lines, one per record, even with hostile text", async () => {
  const lines: string[] = [];
  await configureLogging({ write: (line) => void lines.push(line) });
  try {
    getLogger(["posthaste", "test"]).warn("user said {text}", { text: hostile, requestId: "r1" });
    getLogger(["posthaste", "test"]).debug("not at info level");
  } finally {
    await reset();
  }
  equal(lines.length, 1);
  const line = lines[0] ?? "";
  equal(line.indexOf("\n"), line.length - 1);
  // deno-lint-ignore no-control-regex -- asserting their absence
  ok(!/[\r\u2028\x1b\x9b\u202e]/.test(line));
  const record = JSON.parse(line);
  equal(record.level, "WARN");
  equal(record.text, hostile);
  equal(record.requestId, "r1");
});

Deno.test("configureLogging(): pretty format escapes hostile text too", async () => {
  const lines: string[] = [];
  await configureLogging({
    format: "pretty",
    level: "debug",
    write: (line) => void lines.push(line),
  });
  try {
    getLogger(["posthaste"]).debug(`user said ${hostile}`);
    getLogger(["posthaste"]).info("Start-up stopped by {signal}", { signal: hostile });
  } finally {
    await reset();
  }
  equal(lines.length, 2);
  // deno-lint-ignore no-control-regex -- asserting their absence
  ok(!lines.some((line) => /[\r\u2028\x1b\x9b\u202e]/.test(line)));
  ok(lines.every((line) => line.split("\n").length === 2));
  // A string value as its text, escaped as the line is (LogTape's own rendering quoted it).
  ok(lines[1]?.includes("Start-up stopped by a\\nb\\r"), lines[1]);
});

Deno.test("configureLogging(): a string or an error in a JSON message reads as its text (not quoted, not {})", async () => {
  const lines: string[] = [];
  await configureLogging({ write: (line) => void lines.push(line) });
  try {
    const logger = getLogger(["posthaste", "test"]);
    logger.error("Cannot commit {id}: {error}", { id: "g1", error: new Error("disk stalled") });
    logger.error("Cannot parse: {error}", { error: new TypeError("not JSON") });
    logger.error("{count} tasks {where}: {detail}", { count: 3, where: "left", detail: { a: 1 } });
  } finally {
    await reset();
  }
  const [plain, typed, mixed] = lines.map((line) => JSON.parse(line));
  equal(plain.message, "Cannot commit g1: disk stalled", "strings and errors as their text");
  equal(plain.error.message, "disk stalled", "the property keeps the error whole");
  ok(plain.error.stack.includes("logging_test.ts"));
  equal(typed.message, "Cannot parse: TypeError: not JSON");
  equal(mixed.message, '3 tasks left: {"a":1}', "other values as LogTape writes them");
});

Deno.test("configureLogging(): a service's own categories are written too, LogTape's own warnings once", async () => {
  const lines: string[] = [];
  await configureLogging({ level: "info", write: (line) => void lines.push(line) });
  try {
    getLogger(["myapp", "mail"]).info("sent {to}", { to: "ada" });
    getLogger(["myapp"]).debug("below the level");
    getLogger(["logtape", "meta"]).info("LogTape's chatter");
    getLogger(["logtape", "meta"]).warn("LogTape's problem");
  } finally {
    await reset();
  }
  // Before, only posthaste's categories were: a service's own records went nowhere.
  equal(
    lines.map((line) => JSON.parse(line).message).join(" | "),
    "sent ada | LogTape's problem",
  );
});
