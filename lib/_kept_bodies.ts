// The bodies of requests with an Idempotency-Key, as readBody read them: the
// handler fingerprints what the route read, without reading the body itself
// (a copy of the request for the route cost 50 us a request). Internal.

// On the request itself, not in a WeakMap: V8's scavenges trace a weak
// collection's entries one by one (see `given` in _given_ids.ts).
const kept = Symbol("posthaste.keptBody");
type Kept = Request & { [kept]?: Uint8Array | null };

/** Keyed requests, each with the body readBody read of it, or null until it read one. */
export const keptBodies = {
  /** The body read of a keyed request, null until one is, or undefined if not keyed. */
  get(request: Request): Uint8Array | null | undefined {
    return (request as Kept)[kept];
  },
  /** Marks a keyed request (null), or keeps the body read of it. */
  set(request: Request, body: Uint8Array | null): void {
    (request as Kept)[kept] = body;
  },
  /** Whether the request is keyed. */
  has(request: Request): boolean {
    return (request as Kept)[kept] !== undefined;
  },
};

/** Keeps `body` as the one read of a keyed request; returns it. */
export function keep(request: Request, body: Uint8Array): Uint8Array {
  keptBodies.set(request, body);
  return body;
}
