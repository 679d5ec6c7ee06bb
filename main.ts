/**
 * Starts the posthaste notification service ({@linkcode runServer}): reads
 * the configuration from the environment, builds the app, serves it, and
 * shuts down gracefully on SIGINT, SIGTERM or SIGHUP (a second signal gives up
 * waiting for tasks; one while starting stops the start, exit 0); SIGUSR2
 * reopens the log files. Stray errors are logged, not fatal.
 *
 * @module
 */
import { runServer } from "./lib/mod.ts";

Deno.exit(await runServer());
