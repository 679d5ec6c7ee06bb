import { deepEqual, equal } from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Context,
  context,
  type ContextManager,
  ROOT_CONTEXT,
  trace,
} from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { defineTask, TaskGroup } from "../lib/mod.ts";
import { fakeClock, TestRunner } from "./_helpers.ts";

Deno.test("each attempt is a span in the request's trace, with name, attempt and outcome", async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer("test");
  const request = tracer.startSpan("POST /send-notification/:email");
  request.end(); // as in Deno: the request span ends when the response goes out
  const traceContext = trace.setSpan(ROOT_CONTEXT, request);

  const clock = fakeClock();
  await using runner = new TestRunner({ tracer, clock, retries: 0 });
  const group = new TaskGroup({ id: "req-1", traceContext })
    .add(function send() {})
    .add(function flaky() {
      throw new Error("smtp down");
    })
    .add(defineTask("slow", () => new Promise(() => {}), { timeout: 10 }));
  runner.submit(group);
  await clock.tickAsync(10);
  await group.settled();

  const spans = exporter.getFinishedSpans().filter((s) => s.name.startsWith("task "));
  deepEqual(spans.map((s) => [s.name, s.attributes["posthaste.task.outcome"]]), [
    ["task send", "succeeded"],
    ["task flaky", "failed"],
    ["task slow", "timed_out"],
  ]);
  for (const span of spans) {
    equal(span.spanContext().traceId, request.spanContext().traceId);
    equal(span.parentSpanContext?.spanId, request.spanContext().spanId);
    equal(span.attributes["posthaste.group.id"], "req-1");
    equal(span.attributes["posthaste.task.attempt"], 1);
  }
  deepEqual(spans.map((s) => s.attributes["posthaste.task.id"]), ["req-1/0", "req-1/1", "req-1/2"]);
  equal(spans[1]?.status.message, "smtp down");
});

/** Deno's context manager when OTEL_DENO is on, as far as these tests need it: across awaits. */
class StorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(context, () => fn.apply(thisArg, args));
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

Deno.test("a traced task's own spans, and its follow-up's tasks, are children of its attempt's span", async () => {
  context.setGlobalContextManager(new StorageContextManager());
  try {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("test");
    const request = tracer.startSpan("POST /orders");
    request.end();
    const inner = defineTask("receipt", () => tracer.startSpan("send mail").end());
    const outer = defineTask("charge", async function () {
      tracer.startSpan("call the bank").end();
      await Promise.resolve(); // after an await too
      await this.submit(new TaskGroup().add(inner));
    });
    await using runner = new TestRunner({ tracer });
    runner.submit(
      new TaskGroup({ traceContext: trace.setSpan(ROOT_CONTEXT, request) }).add(outer),
    );
    await runner.idle();
    const spans = new Map(exporter.getFinishedSpans().map((span) => [span.name, span]));
    const parentOf = (name: string) => {
      const parent = spans.get(name)?.parentSpanContext?.spanId;
      return [...spans].find(([, span]) => span.spanContext().spanId === parent)?.[0];
    };
    deepEqual(
      ["task charge", "call the bank", "task receipt", "send mail"].map(parentOf),
      ["POST /orders", "task charge", "task charge", "task receipt"],
    );
  } finally {
    context.disable();
  }
});
