/**
 * OpenTelemetry spans for task attempts, which run after the request's span
 * has ended: each is a child of the request's span, in the same trace.
 *
 * @module
 */
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { errorText } from "./_thrown.ts";
import type { TaskEntry } from "./task_entry.ts";
import { taskId } from "./task_status.ts";

/**
 * The part of an OpenTelemetry `Span` posthaste uses.
 *
 * @example The attributes of an attempt's span
 * ```ts
 * import { endAttemptSpan, startAttemptSpan, type TaskSpan, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const attributes = new Map<string, unknown>();
 * const span: TaskSpan = {
 *   setAttribute: (key, value) => attributes.set(key, value),
 *   setStatus: () => {},
 *   recordException: () => {},
 *   isRecording: () => true,
 *   end: () => {},
 * };
 * const group = new TaskGroup({ id: "g" }).add(function send() {});
 * endAttemptSpan(startAttemptSpan({ startSpan: () => span }, group.tasks[0] as never), "timed_out");
 * equal(attributes.get("posthaste.task.outcome"), "timed_out");
 * ```
 */
export interface TaskSpan {
  /** Sets one attribute. */
  setAttribute(key: string, value: string | number | boolean): unknown;
  /** Sets the status (code 2 is error). */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Records an exception as a span event. */
  recordException(exception: Error): unknown;
  /** Whether the span is recorded (and so exported). */
  isRecording(): boolean;
  /** Ends the span. */
  end(): void;
}

/**
 * The part of an OpenTelemetry `Tracer` posthaste uses; a `Tracer` fits.
 *
 * @example A tracer that keeps the names of ended spans
 * ```ts
 * import { TaskGroup, TaskRunner, type TaskTracer } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const ended: string[] = [];
 * const tracer: TaskTracer = {
 *   startSpan: (name) => ({
 *     setAttribute() {},
 *     setStatus() {},
 *     recordException() {},
 *     isRecording: () => true,
 *     end: () => void ended.push(name),
 *   }),
 * };
 * await using runner = new TaskRunner({ tracer });
 * runner.submit(new TaskGroup().add(function send() {}));
 * await runner.idle();
 * deepEqual(ended, ["task send"]);
 * ```
 */
export interface TaskTracer {
  /** Starts a span, a child of `context`'s span if given. */
  startSpan(
    name: string,
    options?: { attributes?: Record<string, string | number | boolean> },
    context?: object,
  ): TaskSpan;
}

/**
 * How an attempt ended, as the `posthaste.task.outcome` attribute says.
 *
 * @example Outcomes an exporter may filter on
 * ```ts
 * import type { AttemptOutcome } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * const worthAlerting = (outcome: AttemptOutcome) => outcome !== "succeeded";
 * ok(worthAlerting("timed_out"));
 * ```
 */
export type AttemptOutcome = "succeeded" | "failed" | "timed_out" | "abandoned";

/**
 * The tracer to give the runner: one that records spans (Deno registers one
 * when started with `OTEL_DENO=true`), or `undefined`, so that no span work
 * is done when tracing is off.
 *
 * @param tracer The tracer to check.
 * @returns The tracer if it records spans, else `undefined`.
 *
 * @example Without OpenTelemetry
 * ```ts
 * import { recordingTracer } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(recordingTracer(), undefined); // no OTEL_DENO here
 * ```
 */
export function recordingTracer(
  tracer: TaskTracer = trace.getTracer("posthaste"),
): TaskTracer | undefined {
  const probe = tracer.startSpan("posthaste.probe");
  const recording = probe.isRecording();
  // A recording probe would be exported; it is never ended, so it is not.
  return recording ? tracer : undefined;
}

/**
 * Starts the span of one attempt, a child of the group's trace context.
 *
 * @param tracer The tracer.
 * @param entry The task.
 * @returns The span; end it with {@linkcode endAttemptSpan}.
 *
 * @example A span for one attempt
 * ```ts
 * import { endAttemptSpan, startAttemptSpan, TaskGroup } from "./mod.ts";
 * import { trace } from "@opentelemetry/api";
 *
 * const group = new TaskGroup({ id: "g" }).add(() => {});
 * const span = startAttemptSpan(trace.getTracer("docs"), group.tasks[0] as never);
 * endAttemptSpan(span, "succeeded");
 * ```
 */
export function startAttemptSpan(tracer: TaskTracer, entry: TaskEntry): TaskSpan {
  const { group } = entry;
  return tracer.startSpan(`task ${entry.name}`, {
    attributes: {
      "posthaste.task.name": entry.name,
      "posthaste.task.id": taskId(group.id, entry.index),
      "posthaste.task.attempt": entry.attempts,
      "posthaste.group.id": group.id,
    },
  }, group.traceContext);
}

/**
 * Ends an attempt's span with its outcome (and error, if it failed).
 *
 * @param span The span from {@linkcode startAttemptSpan}.
 * @param outcome How the attempt ended.
 * @param error What it failed with.
 *
 * @example Recording a failed attempt
 * ```ts
 * import { endAttemptSpan, type TaskSpan } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const seen: unknown[] = [];
 * const span: TaskSpan = {
 *   setAttribute: (key, value) => seen.push([key, value]),
 *   setStatus: (status) => seen.push(status),
 *   recordException: (error) => seen.push(error.message),
 *   isRecording: () => true,
 *   end: () => seen.push("end"),
 * };
 * endAttemptSpan(span, "failed", new Error("smtp down"));
 * deepEqual(seen, [
 *   ["posthaste.task.outcome", "failed"],
 *   { code: 2, message: "smtp down" },
 *   "smtp down",
 *   "end",
 * ]);
 * ```
 */
export function endAttemptSpan(span: TaskSpan, outcome: AttemptOutcome, error?: unknown): void {
  span.setAttribute("posthaste.task.outcome", outcome);
  if (outcome !== "succeeded") {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: errorText(error ?? outcome),
    });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
}
