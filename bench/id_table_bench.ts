// The registry's live groups at scenario 2's scale (25,000 waiting at once):
// each step adds a group, lets the oldest go and finds a recent one, in the
// open-addressing table against the object dictionary it replaced.
import { idHash, IdTable } from "../lib/_id_table.ts";

const LIVE = 25_000;
type Group = { readonly id: string };
const groups: Group[] = Array.from({ length: 4 * LIVE }, () => ({ id: crypto.randomUUID() }));
const keys = groups.map(({ id }) => idHash(id));
const n = groups.length;

const dictionary: Record<number, Group | undefined> = Object.create(null);
let d = 0;
for (; d < LIVE; d++) dictionary[keys[d]!] = groups[d];
Deno.bench({
  name: "object dictionary: add, delete the oldest, find",
  group: "25,000 live groups",
  baseline: true,
  fn() {
    const i = d % n;
    dictionary[keys[i]!] = groups[i];
    delete dictionary[keys[(d - LIVE) % n]!];
    if (dictionary[keys[(d - 100) % n]!] === undefined) throw new Error("lost");
    d++;
  },
});

const table = new IdTable<Group>();
let t = 0;
for (; t < LIVE; t++) table.add(keys[t]!, groups[t]!);
Deno.bench({
  name: "IdTable: add, delete the oldest, find",
  group: "25,000 live groups",
  fn() {
    const i = t % n;
    const old = (t - LIVE) % n;
    table.add(keys[i]!, groups[i]!);
    table.delete(keys[old]!, groups[old]!);
    const recent = (t - 100) % n;
    if (table.find(keys[recent]!, groups[recent]!.id) === undefined) throw new Error("lost");
    t++;
  },
});

// Scenario 1's pattern: groups come in a wave of a few hundred and leave
// together when the log writer's batch is written.
const WAVE = 500;
const waves = new IdTable<Group>();
Deno.bench({
  name: "IdTable: a wave of 500 groups added, then deleted",
  group: "waves",
  fn() {
    for (let i = 0; i < WAVE; i++) waves.add(keys[i]!, groups[i]!);
    for (let i = 0; i < WAVE; i++) waves.delete(keys[i]!, groups[i]!);
  },
});
