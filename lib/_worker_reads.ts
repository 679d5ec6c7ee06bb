// Whether this process may read the modules a worker imports, and they
// exist: a worker denied one crashed at its job, and Deno printed its error
// outside the server's logs; a missing one failed every job. Internal.

/** The module every worker starts from. */
export const WORKER_HOST: string = new URL("./_worker_host.ts", import.meta.url).href;

// Process-wide: a grant found once is not asked again for each job.
const granted = new Set<string>();

/**
 * Throws unless this process may read the worker host and `module`, and
 * they exist (`file:` URLs; a compiled binary's embedded modules need no grant).
 *
 * @param module The module's URL.
 * @param verb What is done with the task, for the message.
 * @param task The task's name (`pool.define`) or the function's (`pool.run`).
 * @throws {Error} `Cannot <verb> worker task "<task>": no read access to "<path>", …`,
 * naming both files when both are not granted.
 */
export function checkWorkerReads(module: string, verb: "define" | "run", task: string): void {
  // Each job runs this: two look-ups, and no message unless one fails.
  if (granted.has(WORKER_HOST) && granted.has(module)) return;
  const ungranted: string[] = [];
  const missing: string[] = [];
  for (const url of new Set([WORKER_HOST, module])) {
    const problem = unreadable(url);
    if (problem === undefined) granted.add(url);
    else (problem.granted ? missing : ungranted).push(problem.path);
  }
  const problems = [
    ungranted.length > 0 &&
    `no read access to ${
      ungranted.map((path) => JSON.stringify(path)).join(", ")
    }, which its worker imports; grant it (--allow-read=${ungranted.join(",")})`,
    ...missing.map((path) =>
      `${JSON.stringify(path)} is not a file, so its worker could not import it`
    ),
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new Error(`Cannot ${verb} worker task "${task}": ${problems.join("; ")}`);
  }
}

/** Why a worker could not import a `file:` URL (not granted, or no such file), else undefined. */
function unreadable(url: string): { path: string; granted: boolean } | undefined {
  if (Deno.build.standalone || !URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  if (parsed.protocol !== "file:") return undefined;
  const path = decodeURIComponent(parsed.pathname);
  const { state } = Deno.permissions.querySync({ name: "read", path: parsed });
  if (state !== "granted") return { path, granted: false };
  try {
    if (Deno.statSync(parsed).isFile) return undefined;
  } catch {
    // Missing, or unreadable as a file: said by the caller.
  }
  return { path, granted: true };
}
