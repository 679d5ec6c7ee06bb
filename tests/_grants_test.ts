import { equal, throws } from "node:assert/strict";
import { checkGrants } from "../lib/_grants.ts";
import { readConfig } from "../lib/mod.ts";

// Run with the suite's grants: net to 127.0.0.1 only, read and write anywhere.
const configWith = (env: Record<string, string>) => readConfig((name) => env[name]);

Deno.test("checkGrants names every PostgreSQL host of a TASK_STORE not granted, as the driver would reach it", () => {
  const refused = (url: string) => {
    let message = "";
    throws(() => checkGrants(configWith({ TASK_STORE: url })), (error: Error) => {
      message = error.message;
      return true;
    });
    return /^Cannot start: no net access to (.*?); grant it/.exec(message)?.[1];
  };
  const port = Deno.env.get("PGPORT") || "5432"; // what the URL leaves out
  equal(refused("postgres://u:p@db.internal/tasks"), `db.internal:${port}`);
  equal(refused("postgres://u@h1:6432,h2/tasks?sslmode=require"), `h1:6432, h2:${port}`);
  equal(refused("postgresql://u@[::1]:5433/tasks"), "[::1]:5433");
  // Granted, or found elsewhere by the driver (a socket): nothing to name.
  checkGrants(configWith({ TASK_STORE: "postgres://u@127.0.0.1:5432/tasks" }));
  checkGrants(configWith({ TASK_STORE: "postgres://u@/tasks?host=/run/postgresql" }));
  checkGrants(configWith({}));
});
