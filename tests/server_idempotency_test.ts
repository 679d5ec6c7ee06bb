import { deepEqual, equal, notEqual } from "node:assert/strict";
import {
  createHandler,
  DuplicateGroupError,
  GroupRegistry,
  type HandlerOptions,
  readBody,
  route,
  TaskRunner,
} from "../lib/mod.ts";
import { requestFingerprint } from "../lib/_replays.ts";
import { captureLogs } from "./_helpers.ts";

/** A journal whose commits the test settles; those left are resolved when the server is disposed. */
function gatedJournal() {
  const commits: PromiseWithResolvers<void>[] = [];
  return {
    commits,
    enqueue() {
      const commit = Promise.withResolvers<void>();
      commits.push(commit);
      return commit.promise;
    },
    [Symbol.dispose]: () => commits.forEach((commit) => commit.resolve()),
  };
}

/**
 * A server whose route `POST /send/:to?m=…` adds one task recording `m`,
 * with a registry wired as the app wires it. The route is synchronous, so
 * once it ran (`handledTimes`) the request's admission has run too.
 */
function keyedServer(
  options: Pick<HandlerOptions, "accepting"> & {
    journal?: HandlerOptions["journal"] & Partial<Disposable>;
  } = {},
) {
  const registry = new GroupRegistry();
  const runner = new TaskRunner({
    onGroupAccepted: (group) => registry.track(group),
    onGroupDropped: (group) => registry.forget(group),

    onGroupSettled: (group) => registry.settled(group),
  });
  const ran: string[] = [];
  // Statuses as the handler answers them, before they reach the client.
  const answered: number[] = [];
  const replays = { count: 0 };
  const handled = { count: 0, reached: Promise.withResolvers<void>(), target: 0 };
  const record = (to: string, message: string) => void ran.push(`${to}: ${message}`);
  const routes = [
    route("POST", "/send/:to", (request, { params, group }) => {
      group.add(record, params.to, new URL(request.url).searchParams.get("m") ?? "");
      if (++handled.count === handled.target) handled.reached.resolve();
      const location = `/tasks/${group.id}`;
      return Response.json({ id: group.id }, { status: 202, headers: { location } });
    }),
    // The message in the body, read with readBody, or another way.
    route("POST", "/body/:to", async (request, { params, group }) => {
      group.add(record, params.to, new TextDecoder().decode(await readBody(request)));
      return Response.json({ id: group.id }, { status: 202 });
    }),
    route("POST", "/text/:to", async (request, { params, group }) => {
      group.add(record, params.to, await request.text());
      return Response.json({ id: group.id }, { status: 202 });
    }),
  ];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createHandler({
      routes,
      runner,
      fingerprintOf: (id) => registry.fingerprint(id),
      onResponse: (_route, status) => void answered.push(status),
      onReplay: () => void replays.count++,
      ...options,
    }),
  );
  const post = async (path: string, message: string, key?: string, body?: string) => {
    const headers: Record<string, string> = key === undefined ? {} : { "idempotency-key": key };
    const url = `http://127.0.0.1:${server.addr.port}${path}?m=${message}`;
    const response = await fetch(url, { method: "POST", headers, body: body ?? null });
    const json = await response.json();
    return {
      status: response.status,
      id: json.id ?? json.error,
      location: response.headers.get("location"),
      replayed: response.headers.get("idempotent-replayed"),
    };
  };
  /** Resolves once the route ran `count` times in all. */
  const handledTimes = (count: number) => {
    handled.target = count;
    handled.reached = Promise.withResolvers<void>();
    if (handled.count >= count) handled.reached.resolve();
    return handled.reached.promise;
  };
  return {
    registry,
    runner,
    ran,
    answered,
    replays,
    post,
    /** Sends requests with one key at once; returns their answers once the route ran for all. */
    async atOnce(path: string, key: string, ...messages: string[]) {
      const answers = Promise.all(messages.map((message) => post(path, message, key)));
      await handledTimes(handled.count + messages.length);
      return { answers };
    },
    handledTimes,
    async [Symbol.asyncDispose]() {
      // A commit left pending (a failed assertion) would hold the shutdown.
      options.journal?.[Symbol.dispose]?.();
      await server.shutdown();
      await runner.drain();
    },
  };
}

Deno.test("Idempotency-Key: a repeat gets the first answer again, marked replayed, and its task runs once", async () => {
  let accepting = true;
  await using app = keyedServer({ accepting: () => accepting });
  const first = await app.post("/send/ada", "first", "order-42");
  equal(first.status, 202);
  equal(first.replayed, null);
  await app.runner.idle();
  const again = await app.post("/send/ada", "first", "order-42");
  deepEqual(again, { ...first, replayed: "true" }, "same status, id and Location");
  const quoted = await app.post("/send/ada", "first", '"order-42"');
  equal(quoted.id, first.id, "the IETF draft's quoted key is the same key");
  // Another path is other work; so is a request without a key, each time.
  const other = await app.post("/send/bob", "first", "order-42");
  deepEqual([other.status, other.replayed], [202, null]);
  notEqual(other.id, first.id);
  await app.post("/send/ada", "unkeyed");
  await app.post("/send/ada", "unkeyed");
  // While draining a repeat is still answered (it is no new work); a new key is not.
  accepting = false;
  deepEqual(await app.post("/send/ada", "first", "order-42"), again);
  equal((await app.post("/send/ada", "new", "order-43")).id, "shutting_down");
  await app.runner.idle();
  deepEqual(app.ran, ["ada: first", "bob: first", "ada: unkeyed", "ada: unkeyed"]);
  equal(app.replays.count, 3);
});

Deno.test("Idempotency-Key: a bad key is 400 invalid_idempotency_key and adds nothing; an unknown path is still 404", async () => {
  await using app = keyedServer();
  deepEqual(
    [await app.post("/send/ada", "x", "two words"), await app.post("/nowhere", "x", "k")]
      .map(({ status, id }) => [status, id]),
    [[400, "invalid_idempotency_key"], [404, "not_found"]],
  );
  await app.runner.idle();
  deepEqual(app.ran, []);
});

Deno.test("Idempotency-Key: a repeat during the first one's commit waits for it, and is replayed once it is durable", async () => {
  const journal = gatedJournal();
  const { commits } = journal;
  await using app = keyedServer({ journal });
  const { answers } = await app.atOnce("/send/ada", "k", "first", "first", "other");
  equal(commits.length, 1, "the repeats are not journaled");
  deepEqual(app.answered, [], "neither is answered before the commit");
  commits[0]?.resolve();
  const [first, second, other] = await answers;
  deepEqual(second, { ...first, replayed: "true" });
  deepEqual([other?.status, other?.id], [422, "idempotency_key_reused"]);
  await app.runner.idle();
  equal(app.ran.length, 1);
});

Deno.test("Idempotency-Key: when the first commit fails, its repeat fails too, and the next try is new work", async () => {
  await using _logs = await captureLogs();
  const journal = gatedJournal();
  const { commits } = journal;
  await using app = keyedServer({ journal });
  const { answers } = await app.atOnce("/send/ada", "k", "first", "second");
  commits[0]?.reject(new Error("disk full"));
  deepEqual((await answers).map(({ status, id }) => [status, id]), [
    [503, "journal_unavailable"],
    [503, "journal_unavailable"],
  ]);
  // The dropped group left no status behind that would count as accepted.
  const third = app.post("/send/ada", "third", "k");
  await app.handledTimes(3);
  equal(commits.length, 2);
  commits[1]?.resolve();
  deepEqual([(await third).status, (await third).replayed], [202, null]);
  await app.runner.idle();
  deepEqual(app.ran, ["ada: third"]);
});

Deno.test("Idempotency-Key: a group the journal holds already (another server's, or from before a restart) is replayed, not run", async () => {
  // The journal holds the key's group with the fingerprint of `?m=again`, or says none.
  let held: string | undefined = requestFingerprint(new Request("http://x/?m=again"));
  const journal = {
    enqueue: (group: { id: string }) => Promise.reject(new DuplicateGroupError(group.id, held)),
  };
  await using app = keyedServer({ journal });
  const answer = await app.post("/send/ada", "again", "k");
  deepEqual([answer.status, answer.replayed], [202, "true"]);
  const other = await app.post("/send/ada", "other", "k");
  deepEqual([other.status, other.id], [422, "idempotency_key_reused"]);
  held = undefined;
  deepEqual((await app.post("/send/ada", "other", "k")).replayed, "true", "none to compare");
  await app.runner.idle();
  deepEqual(app.ran, []);
  equal(app.registry.status(answer.id), undefined, "its status is the journal's to tell");
  equal(app.replays.count, 2);
});

Deno.test("Idempotency-Key: the key sent again with another query or body is 422 idempotency_key_reused, and adds nothing", async () => {
  await using app = keyedServer();
  const first = await app.post("/body/ada", "q", "k", "hello");
  equal(first.status, 202);
  await app.runner.idle();
  deepEqual(app.ran, ["ada: hello"]);
  deepEqual((await app.post("/body/ada", "q", "k", "hello")).replayed, "true");
  const answers = await Promise.all([
    app.post("/body/ada", "q", "k", "goodbye"),
    app.post("/body/ada", "q", "k"),
    app.post("/body/ada", "other", "k", "hello"),
  ]);
  deepEqual(answers.map(({ status, id }) => [status, id]), [
    [422, "idempotency_key_reused"],
    [422, "idempotency_key_reused"],
    [422, "idempotency_key_reused"],
  ]);
  // A body the route does not read is no part of the work; one it reads
  // without readBody is unknown: both replayed.
  await app.post("/send/bob", "q", "k", "hello");
  deepEqual((await app.post("/send/bob", "q", "k", "goodbye")).replayed, "true");
  await app.post("/text/eve", "q", "k", "hello");
  deepEqual((await app.post("/text/eve", "q", "k", "goodbye")).replayed, "true");
  // The 422s are not counted as replays, and add nothing.
  await app.runner.idle();
  deepEqual(app.ran, ["ada: hello", "bob: q", "eve: hello"]);
  equal(app.replays.count, 3);
  deepEqual(app.answered, [202, 202, 422, 422, 422, 202, 202, 202, 202]);
});
