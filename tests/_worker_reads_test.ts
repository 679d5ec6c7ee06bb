import { deepEqual } from "node:assert/strict";

const SCRIPT = new URL("./fixtures/worker_reads.ts", import.meta.url);
const HOST = new URL("../lib/_worker_host.ts", import.meta.url).pathname;
const TASKS = new URL("./fixtures/worker_tasks.ts", import.meta.url).pathname;
const MISSING = new URL("./fixtures/no_such_module.ts", import.meta.url).pathname;

/** What the fixture prints when it may read `paths` and nothing else. */
async function printed(paths: string[]): Promise<{ lines: string[]; stderr: string }> {
  const read = paths.length > 0 ? [`--allow-read=${paths.join(",")}`] : [];
  const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...read, SCRIPT.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { lines: decode(stdout).trim().split("\n"), stderr: decode(stderr) };
}

const denied = (action: string, path: string) =>
  `Error: Cannot ${action}: no read access to "${path}", which its worker imports; grant it (--allow-read=${path})`;

Deno.test("a worker task whose modules this process may not read, or that do not exist, is refused by name, at define and at run", async () => {
  // Before: defined, and each job failed with "its worker crashed: Requires read access…",
  // with Deno's own error printed on stderr beside the logs.
  // Both at once, not one start at a time.
  const both = (action: string, path: string) =>
    `Error: Cannot ${action}: no read access to "${HOST}", "${path}", which its worker imports; grant it (--allow-read=${HOST},${path})`;
  deepEqual(await printed([]), {
    lines: [
      both('define worker task "square"', TASKS),
      both('run worker task "square"', TASKS),
      both('define worker task "typo"', MISSING),
    ],
    stderr: "",
  });
  deepEqual(await printed([TASKS]), {
    lines: [
      denied('define worker task "square"', HOST),
      denied('run worker task "square"', HOST),
      both('define worker task "typo"', MISSING),
    ],
    stderr: "",
  });
  deepEqual(await printed([HOST]), {
    lines: [
      denied('define worker task "square"', TASKS),
      denied('run worker task "square"', TASKS),
      denied('define worker task "typo"', MISSING),
    ],
    stderr: "",
  });
  // A module that does not exist (a typo) fails where it is defined, not at each job.
  deepEqual(await printed([HOST, TASKS, MISSING]), {
    lines: [
      "defined",
      "49",
      `Error: Cannot define worker task "typo": "${MISSING}" is not a file, so its worker could not import it`,
    ],
    stderr: "",
  });
});
