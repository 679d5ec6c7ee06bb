// Requests sent again with their Idempotency-Key: which keyed groups are on
// their way into the journal, and the answer a repeat gets. Internal to
// createHandler.
import { DuplicateGroupError } from "./duplicate_group_error.ts";

/** What the server knows of keyed groups it accepted, or is accepting. */
export class Replays {
  // Keyed groups being journaled: whether each ends accepted (committed, or journaled before).
  readonly #committing = new Map<string, Promise<boolean>>();
  readonly #accepted: (id: string) => boolean;
  readonly #onReplay: () => void;

  /**
   * @param accepted Whether a group id is known as accepted (HandlerOptions.accepted).
   * @param onReplay Called for each replayed answer (HandlerOptions.onReplay).
   */
  constructor(accepted: (id: string) => boolean, onReplay: () => void) {
    this.#accepted = accepted;
    this.#onReplay = onReplay;
  }

  /**
   * Whether a request whose group has this id is a repeat: `true` or `false`
   * now, or once the first one's commit settled (a promise).
   */
  repeats(id: string): boolean | Promise<boolean> {
    return this.#committing.get(id) ?? this.#accepted(id);
  }

  /** Counts `id` as on its way into the journal until `enqueued` settles. */
  hold(id: string, enqueued: Promise<void>): void {
    const accepted = enqueued.then(() => true, (error) => error instanceof DuplicateGroupError);
    this.#committing.set(id, accepted);
    accepted.then(() => this.#committing.delete(id));
  }

  /** The route's answer again, marked as a replay: its tasks were not added. */
  replay(response: Response): Response {
    this.#onReplay();
    const headers = new Headers(response.headers);
    headers.set("idempotent-replayed", "true");
    const { status, statusText } = response;
    return new Response(response.body, { status, statusText, headers });
  }
}
