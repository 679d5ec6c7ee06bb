// Log writer: concurrent appends. Baseline: one pre-joined write of the same
// lines (the floor any writer can reach); the naive way is shown for scale.
import { LogWriter } from "../lib/mod.ts";

const LINES = 10_000;
const line = (i: number): string => `notification for user${i}@example.com: some notification`;
const dir = await Deno.makeTempDir({ prefix: "posthaste_bench_" });
const encoder = new TextEncoder();
const log = await LogWriter.open(`${dir}/writer.txt`);
const raw = await Deno.open(`${dir}/raw.txt`, { append: true, create: true });

Deno.bench({
  name: `one write of ${LINES} pre-joined lines`,
  group: "log writer (10,000 concurrent appends)",
  baseline: true,
  async fn() {
    let text = "";
    for (let i = 0; i < LINES; i++) text += line(i) + "\n";
    const bytes = encoder.encode(text);
    for (let offset = 0; offset < bytes.length;) offset += await raw.write(bytes.subarray(offset));
  },
});

Deno.bench({
  name: `LogWriter.append x ${LINES}, all awaited`,
  group: "log writer (10,000 concurrent appends)",
  async fn() {
    const pending: Promise<void>[] = new Array(LINES);
    for (let i = 0; i < LINES; i++) pending[i] = log.append(line(i));
    await Promise.all(pending);
  },
});

Deno.bench({
  name: `LogWriter.append x ${LINES} keyed, as the demo's first attempts`,
  group: "log writer (10,000 concurrent appends)",
  async fn() {
    const pending: Promise<void>[] = new Array(LINES);
    for (let i = 0; i < LINES; i++) {
      pending[i] = log.append(line(i), { key: `01a2347${i}-3756-786a-bf04-bdf3a0d2ae58/0` });
    }
    await Promise.all(pending);
  },
});

Deno.bench({
  name: `Deno.writeTextFile(append) x 1000 (naive, 1/10 of the lines)`,
  group: "log writer (10,000 concurrent appends)",
  async fn() {
    await Promise.all(
      Array.from(
        { length: LINES / 10 },
        (_, i) => Deno.writeTextFile(`${dir}/naive.txt`, line(i) + "\n", { append: true }),
      ),
    );
  },
});

globalThis.addEventListener("unload", () => {
  raw.close();
  void log.close();
  Deno.removeSync(dir, { recursive: true });
});
