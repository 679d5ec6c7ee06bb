// The requests a handler is answering, counted so that shutdown drains the
// runner only once they are answered: their tasks are accepted even after
// draining began. Internal to createApp.

/** Counts the requests in a wrapped handler, and says when there are none. */
export class InFlight {
  #count = 0;
  #quiet: PromiseWithResolvers<void> | undefined;
  // Made once, not per request: they capture nothing of one.
  readonly #answered = (response: Response): Response => {
    this.#done();
    return response;
  };
  readonly #failed = (error: unknown): never => {
    this.#done();
    throw error;
  };

  /** Requests in the handler now. */
  get count(): number {
    return this.#count;
  }

  /** The handler, counting each request until it is answered (or throws). */
  wrap(inner: Deno.ServeHandler): Deno.ServeHandler {
    return (request, info) => {
      this.#count++;
      let response: Response | Promise<Response>;
      try {
        response = inner(request, info);
      } catch (error) {
        this.#done();
        throw error;
      }
      if (response instanceof Response) {
        this.#done();
        return response;
      }
      // then(), not finally(): finally() makes two more promises and closures per request.
      return response.then(this.#answered, this.#failed);
    };
  }

  /** Resolves once no request is in the handler. */
  quiet(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    this.#quiet ??= Promise.withResolvers<void>();
    return this.#quiet.promise;
  }

  #done(): void {
    if (--this.#count > 0 || this.#quiet === undefined) return;
    this.#quiet.resolve();
    this.#quiet = undefined;
  }
}
