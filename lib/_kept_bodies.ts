// The bodies of requests with an Idempotency-Key, as readBody read them: the
// handler fingerprints what the route read, without reading the body itself
// (a copy of the request for the route cost 50 us a request). Internal.

/** Keyed requests, each with the body readBody read of it, or null until it read one. */
export const keptBodies: WeakMap<Request, Uint8Array | null> = new WeakMap();

/** Keeps `body` as the one read of a keyed request; returns it. */
export function keep(request: Request, body: Uint8Array): Uint8Array {
  keptBodies.set(request, body);
  return body;
}
