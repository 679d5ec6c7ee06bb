// posthaste as another project uses it: by its package name, through
// deno.json's `links` to this checkout (JSR itself is out of reach here), and
// as JSR would take it (`deno publish --dry-run`).
import { deepEqual, equal, match } from "node:assert/strict";
import { lines, spawnServer, tempDir } from "./_helpers.ts";

const root = new URL("..", import.meta.url).pathname;
const { name, version, permissions } = JSON.parse(await Deno.readTextFile(`${root}deno.json`));

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

/**
 * A project of its own that imports posthaste by name, linked to this
 * checkout, with the server's permission set as the README says to make it:
 * the same entries, its worker script at the checkout's path, any port.
 */
async function consumer(dir: string, main: string): Promise<void> {
  const server = permissions.server;
  const worker = (path: string) => path === "lib/_worker_host.ts" ? `${root}${path}` : path;
  await Deno.writeTextFile(
    `${dir}/deno.json`,
    JSON.stringify({
      imports: { [name]: `jsr:${name}@^${version}` },
      links: [root],
      unstable: ["no-legacy-abort"],
      permissions: {
        server: { ...server, net: ["127.0.0.1"], read: server.read.map(worker) },
      },
    }),
  );
  await Deno.writeTextFile(
    `${dir}/square.ts`,
    "export const square = (n: number): number => n * n;\n",
  );
  await Deno.writeTextFile(`${dir}/main.ts`, main);
}

const program = (call: string) => `
import { createHandler, defineTask, route, WorkerPool } from "${name}";
import { TestRunner } from "${name}/testing";
import type { square } from "./square.ts";

const lines: string[] = [];
await using pool = new WorkerPool({ size: 1 });
const squared = pool.define<typeof square>("square", new URL("./square.ts", import.meta.url), "square");
const note = defineTask("note", (email: string, n: number) => void lines.push(\`\${email} \${n}\`));
await using runner = new TestRunner({ drainMs: 5_000 });
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

Deno.test("another project imports posthaste by name (and its /testing): typed tasks checked across the package, a request served, a worker task run", async () => {
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
    /TS2345 \[ERROR\][^]*'string' is not assignable to type 'number'[^]*main\.ts:14:/,
  );
});

Deno.test("the package is as JSR takes it: deno publish --dry-run (explicit types, no global changes, a license)", async () => {
  const dryRun = await deno(root, "publish", "--dry-run", "--allow-dirty");
  equal(dryRun.code, 0, dryRun.output);
  match(dryRun.output, /Success Dry run complete/);
});

Deno.test("another project runs its own service with runServer, durable, under its own permission set, and drains on SIGTERM", async () => {
  await using dir = await tempDir();
  await consumer(
    dir.path,
    `
import { defineTask, route, runServer, type ServiceParts } from "${name}";

const service = ({ log }: ServiceParts) => {
  const hello = defineTask("hello", (who: string) => log.append(\`hello, \${who}\`));
  return {
    routes: [route("POST", "/hello/:who", (_request, { params, group }) => {
      group.add(hello, params.who);
      return Response.json({ id: group.id }, { status: 202 });
    })],
    tasks: [hello],
  };
};
Deno.exit(await runServer({ service }));
`,
  );
  await using server = await spawnServer(
    dir.path,
    { LOG_FILE: "log.txt", DEAD_LETTER_FILE: "dead-letter.jsonl", TASK_STORE: "sqlite:tasks.db" },
    { command: [Deno.execPath(), "run", "-P=server", "main.ts"], cwd: dir.path },
  );
  const response = await fetch(`${server.url}/hello/ada`, { method: "POST" });
  equal(response.status, 202);
  await response.body?.cancel();
  server.child.kill("SIGTERM");
  const { code, stderr } = await server.status();
  equal(code, 0, stderr);
  match(stderr, /Shutdown complete: every accepted task finished/);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)), ["hello, ada"]);
});
