/**
 * Starts the posthaste notification service: reads configuration, builds the
 * app, serves, and shuts down gracefully on SIGINT/SIGTERM (a second signal
 * gives up waiting for tasks); SIGUSR1 reopens the log files. Stray errors are
 * logged, not fatal.
 *
 * @module
 */
import {
  catchStrayErrors,
  CONFIG_VARIABLES,
  configureLogging,
  createApp,
  readConfig,
} from "./lib/mod.ts";

const config = readConfig((name) =>
  CONFIG_VARIABLES.includes(name) ? Deno.env.get(name) : undefined
);
await configureLogging({ level: config.logLevel, format: config.logFormat });
const app = await createApp(config);

// Listeners first, so that no signal can arrive after the server listens but
// before it is handled; a signal's callback runs after `server` is assigned.
const giveUp = new AbortController();
let stopping: Promise<void> | undefined;
const onSignal = (): void => {
  if (stopping) return giveUp.abort();
  stopping = app.shutdown(server, { signal: giveUp.signal }).then((code) => Deno.exit(code));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);
// logrotate renamed the files: later lines go to new files at the paths. USR1,
// as nginx does, not HUP: a server must not outlive the terminal it runs in.
if (Deno.build.os !== "windows") Deno.addSignalListener("SIGUSR1", () => void app.reopenFiles());

const server = Deno.serve({
  hostname: config.hostname,
  port: config.port,
  onListen: ({ hostname, port }) => {
    const text = `posthaste listening on http://${hostname}:${port}/\n`;
    Deno.stdout.writeSync(new TextEncoder().encode(text));
  },
}, app.handler);

// Serving: from now on a task's forgotten promise must not end the process,
// and with it every accepted task (until now, a failure to start must).
app.metrics.strayErrors = catchStrayErrors();
