// What runServer and runReplay share as processes: the configuration read
// from the environment (every variable not granted named at once), the
// permissions it needs checked, logging set up from it, signal listeners
// removed and queued log lines written at the end. Internal.
import { drain, type Logger } from "@logtape/logtape";
import { abortable } from "./abortable.ts";
import { type Config, CONFIG_VARIABLES, readConfig } from "./config.ts";
import { checkGrants } from "./_grants.ts";
import { configureLogging } from "./logging.ts";
import type { SignalSource } from "./run_server.ts";

// SIGHUP stops too: by default it ends the process at once, and with it the
// accepted work, when the terminal goes (an ssh session that dropped).
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM", "SIGHUP"];

/** Adds a signal listener that is removed when the process's run ends. */
export type Listen = (signal: Deno.Signal, handler: () => void) => void;

/**
 * Runs `run` with a `listen` whose listeners are removed afterwards, then
 * writes what is still queued for stderr, unless stderr takes nothing for a
 * second (nobody reads it).
 */
export async function asProcess(
  signals: SignalSource,
  run: (listen: Listen, ended: AbortSignal) => Promise<number>,
): Promise<number> {
  const added: [Deno.Signal, () => void][] = [];
  const listen: Listen = (signal, handler) => {
    signals.addSignalListener(signal, handler);
    added.push([signal, handler]);
  };
  const ended = new AbortController();
  try {
    return await run(listen, ended.signal);
  } finally {
    ended.abort();
    for (const [signal, handler] of added) signals.removeSignalListener(signal, handler);
    await abortable(drain(), AbortSignal.timeout(1_000)).catch(() => {});
  }
}

/** How a process reads its configuration. */
export interface ProcessConfigOptions {
  env?: ((name: string) => string | undefined) | undefined;
  logTo?: ((line: string) => void) | undefined;
  /** Whether the process listens (its address is then a grant it needs). */
  listens: boolean;
  /** Changes the configuration read before its grants are checked. */
  adjust?: (config: Config) => Config;
}

/**
 * The configuration, with the process's logging set up from it, or
 * undefined once a failure to read it or a missing grant is logged (JSON
 * lines until then: a start that fails says why in one).
 */
export async function processConfig(
  logger: Logger,
  { env, logTo: write, listens, adjust = (config) => config }: ProcessConfigOptions,
): Promise<Config | undefined> {
  await configureLogging(write && { write });
  let config: Config;
  try {
    const read = env ?? processEnv();
    config = adjust(
      readConfig((name) => CONFIG_VARIABLES.includes(name) ? read(name) : undefined),
    );
    checkGrants(config, { listens });
  } catch (error) {
    startFailed(logger, error);
    return undefined;
  }
  await configureLogging({
    level: config.logLevel,
    format: config.logFormat,
    ...write && { write },
  });
  return config;
}

/** Logs why the start failed; returns the exit code, 1. */
export function startFailed(logger: Logger, error: unknown): number {
  logger.error("Start-up failed: {error}", {
    error: error instanceof Error ? error.message : String(error),
  });
  return 1;
}

/**
 * The process's environment, once every configuration variable may be read:
 * each is asked for (a default needs to know it is unset), and those not
 * granted are named together, not one failed start at a time.
 */
function processEnv(): (name: string) => string | undefined {
  const ungranted = CONFIG_VARIABLES.filter((variable) =>
    Deno.permissions.querySync({ name: "env", variable }).state !== "granted"
  );
  if (ungranted.length > 0) {
    throw new Error(
      `Cannot read configuration: no env access to ${
        ungranted.join(", ")
      }; grant each (--allow-env=${
        ungranted.join(",")
      }, beside your own), as deno.json's server permission set does`,
    );
  }
  return (name) => Deno.env.get(name);
}
