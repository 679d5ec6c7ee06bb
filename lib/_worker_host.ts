// The script every pool worker runs: it imports task modules on demand and
// answers one job at a time. Internal to WorkerPool.
/// <reference lib="deno.worker" />

interface Job {
  id: number;
  module: string;
  name: string;
  args: unknown[];
}

let current: number | undefined;

// A task that closes its own worker fails only itself: tell the pool first.
const close = self.close.bind(self);
self.close = (): void => {
  self.postMessage({ id: current, ok: false, closed: true });
  close();
};

self.onmessage = async ({ data }: MessageEvent<Job>): Promise<void> => {
  current = data.id;
  try {
    const module = await import(data.module);
    const fn = module[data.name];
    if (typeof fn !== "function") {
      throw new TypeError(`Cannot run worker task: ${data.module} has no function "${data.name}"`);
    }
    self.postMessage({ id: data.id, ok: true, value: await fn(...data.args) });
  } catch (error) {
    const { name = "Error", message = String(error), stack = undefined } = error instanceof Error
      ? error
      : {};
    self.postMessage({ id: data.id, ok: false, error: { name, message, stack } });
  } finally {
    current = undefined;
  }
};
