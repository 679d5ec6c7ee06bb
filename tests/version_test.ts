import { equal } from "node:assert/strict";
import { VERSION } from "../lib/mod.ts";

Deno.test("VERSION is deno.json's version: a release changes both", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  equal(VERSION, config.version);
});
