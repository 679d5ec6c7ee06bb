// Requests sent again with their Idempotency-Key: which keyed groups are on
// their way into the journal, what each request carried, and the answer a
// repeat gets. Internal to createHandler.
import { keptBodies } from "./_kept_bodies.ts";
import { sha256Hex } from "./_sha256.ts";
import { DuplicateGroupError } from "./duplicate_group_error.ts";
import { HttpError } from "./http_error.ts";

/** Marks a request with an `Idempotency-Key`: `readBody` keeps what it reads of it. */
export function watchBody(request: Request): void {
  keptBodies.set(request, null);
}

/**
 * A fingerprint of what a keyed request carried beyond its key (the method,
 * path and key made its group id): the SHA-256 of its query and of the body
 * the route read with `readBody`, 128 bits as hex. A body the route
 * did not read is not part of it (the work did not depend on it); one it
 * read another way (`request.json()`) is unknown, and so is the
 * fingerprint: `""`.
 */
export function requestFingerprint(request: Request): string {
  const body = keptBodies.get(request) ?? null;
  if (body === null && request.bodyUsed) return "";
  // A request's URL is whole (no fragment): the query is all after its "?".
  const { url } = request;
  const query = url.indexOf("?");
  // Hex: base64url took twice as long (3.3 us, Deno.bench).
  return sha256Hex(query < 0 ? "\n" : `${url.slice(query)}\n`, body).slice(0, 32);
}

/** What the server knows of keyed groups it accepted, or is accepting. */
export class Replays {
  // Keyed groups being journaled: each one's fingerprint once it is accepted
  // (committed, or journaled before), or undefined if not. An object in
  // dictionary mode, not a Map: ids come and go with each request (see _slots.ts).
  readonly #committing: Record<string, Promise<string | undefined> | undefined> = Object
    .create(null);
  readonly #fingerprintOf: (id: string) => string | undefined;
  readonly #onReplay: () => void;

  /**
   * @param fingerprintOf An accepted group's fingerprint (HandlerOptions.fingerprintOf).
   * @param onReplay Called for each replayed answer (HandlerOptions.onReplay).
   */
  constructor(fingerprintOf: (id: string) => string | undefined, onReplay: () => void) {
    this.#fingerprintOf = fingerprintOf;
    this.#onReplay = onReplay;
  }

  /**
   * Whether a request whose group has this id is a repeat: the first one's
   * fingerprint (`""` if unknown), or `undefined` if there was none; now,
   * or once the first one's commit settled (a promise).
   */
  first(id: string): string | undefined | Promise<string | undefined> {
    return this.#committing[id] ?? this.#fingerprintOf(id);
  }

  /** Counts `id` as on its way into the journal until `enqueued` settles. */
  hold(id: string, fingerprint: string, enqueued: Promise<void>): void {
    const accepted = enqueued.then(
      () => fingerprint,
      (error) => error instanceof DuplicateGroupError ? error.fingerprint ?? "" : undefined,
    );
    this.#committing[id] = accepted;
    accepted.then(() => delete this.#committing[id]);
  }

  /**
   * A repeat's answer: the route's again, marked as a replay (its tasks were
   * not added); or 422 if the key came first with another query or body
   * (where both fingerprints are known).
   */
  answer(response: Response, first: string, fingerprint: string): Response {
    if (first !== fingerprint && first !== "" && fingerprint !== "") {
      response.body?.cancel().catch(() => {});
      return new HttpError(
        422,
        "idempotency_key_reused",
        "Cannot accept tasks: this Idempotency-Key came before with another query or body",
      ).toResponse();
    }
    this.#onReplay();
    const headers = new Headers(response.headers);
    headers.set("idempotent-replayed", "true");
    const { status, statusText } = response;
    return new Response(response.body, { status, statusText, headers });
  }
}
