// posthaste as another project uses it: by its package name, through
// deno.json's `links` to this checkout (JSR itself is out of reach here), and
// as JSR would take it (`deno publish --dry-run`).
import { equal, match } from "node:assert/strict";
import { tempDir } from "./_helpers.ts";

const root = new URL("..", import.meta.url).pathname;
const { name, version } = JSON.parse(await Deno.readTextFile(`${root}deno.json`));

async function deno(cwd: string, ...args: string[]): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

/** A project of its own that imports posthaste by name, linked to this checkout. */
async function consumer(dir: string, main: string): Promise<void> {
  await Deno.writeTextFile(
    `${dir}/deno.json`,
    JSON.stringify({
      imports: { [name]: `jsr:${name}@^${version}` },
      links: [root],
      unstable: ["no-legacy-abort"],
    }),
  );
  await Deno.writeTextFile(
    `${dir}/square.ts`,
    "export const square = (n: number): number => n * n;\n",
  );
  await Deno.writeTextFile(`${dir}/main.ts`, main);
}

const program = (call: string) => `
import { createHandler, defineTask, route, TaskRunner, WorkerPool } from "${name}";
import type { square } from "./square.ts";

const lines: string[] = [];
await using pool = new WorkerPool({ size: 1 });
const squared = pool.define<typeof square>("square", new URL("./square.ts", import.meta.url), "square");
const note = defineTask("note", (email: string, n: number) => void lines.push(\`\${email} \${n}\`));
await using runner = new TaskRunner();
const handler = createHandler({
  runner,
  routes: [route("POST", "/users/:email", (_request, { params, group }) => {
    ${call};
    group.add(squared, 7);
    return Response.json({ id: group.id }, { status: 202 });
  })],
});
await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
const response = await fetch(\`http://127.0.0.1:\${server.addr.port}/users/ada\`, { method: "POST" });
await response.body?.cancel();
await runner.idle();
console.log(response.status, JSON.stringify(lines), runner.stats.failed);
`;

Deno.test("another project imports posthaste by name: typed tasks checked across the package, a request served, a worker task run", async () => {
  await using dir = await tempDir();
  await consumer(dir.path, program("group.add(note, params.email, 42)"));
  const run = await deno(
    dir.path,
    "run",
    "--allow-net=127.0.0.1",
    `--allow-read=${root}lib/_worker_host.ts,${dir.path}/square.ts`,
    "main.ts",
  );
  equal(run.code, 0, run.output);
  match(run.output, /^202 \["ada 42"\] 0$/m);
});

Deno.test("another project's wrong task arguments fail deno check through the package", async () => {
  await using dir = await tempDir();
  await consumer(dir.path, program(`group.add(note, params.email, "42")`));
  const check = await deno(dir.path, "check", "main.ts");
  equal(check.code, 1, check.output);
  // The call's own line: the number parameter given a string.
  match(
    check.output,
    /TS2345 \[ERROR\][^]*'string' is not assignable to type 'number'[^]*main\.ts:13:/,
  );
});

Deno.test("the package is as JSR takes it: deno publish --dry-run (explicit types, no global changes, a license)", async () => {
  const dryRun = await deno(root, "publish", "--dry-run", "--allow-dirty");
  equal(dryRun.code, 0, dryRun.output);
  match(dryRun.output, /Success Dry run complete/);
});
