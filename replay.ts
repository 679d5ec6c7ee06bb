/**
 * Replays the demo service's dead letters ({@linkcode runReplay}): reads them
 * from standard input and runs their tasks again, with the configuration the
 * server reads from the environment. `deno task replay < dead-letter.jsonl`.
 *
 * @module
 */
import { runReplay } from "./lib/mod.ts";

Deno.exit(await runReplay());
