// `deno compile` downloads `denort` unless DENORT_BIN points at one, and no
// download is possible on these machines: the test runs only with DENORT_BIN.
import { equal, match } from "node:assert/strict";
import { serverPermissions, spawnServer, tempDir } from "./_helpers.ts";

const denort = Deno.env.get("DENORT_BIN");

Deno.test({
  name: denort
    ? "deno task compile builds a binary that serves"
    : "deno task compile builds a binary that serves (skipped: set DENORT_BIN to a denort binary)",
  ignore: denort === undefined,
  async fn() {
    await using dir = await tempDir();
    const output = `${dir.path}/posthaste`;
    const build = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        ...serverPermissions(dir.path),
        "--include",
        "lib/_worker_host.ts",
        "--include",
        "lib/report_work.ts",
        "--output",
        output,
        "main.ts",
      ],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(build.code, 0, new TextDecoder().decode(build.stderr));
    await using server = await spawnServer(dir.path, { PORT: "0" }, { binary: output });
    match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  },
});
