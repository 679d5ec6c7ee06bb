/**
 * What the crash soak's servers wrote: their lines and dead letters, read
 * from every directory given (rotated files too), sorted out by task.
 *
 * @module
 */

/** The count of one read of the files. */
export interface Tally {
  /** Lines written, by address (a notification) or id (a report). */
  readonly lines: Map<string, number>;
  /**
   * Dead letters by the task's first argument, with their reasons: a task
   * quarantined by the crash-loop guard is kept there for `deno task
   * replay`, not lost.
   */
  readonly letters: Map<string, string>;
  /** Dead letters written: more than `letters` holds if some were written twice. */
  letterLines: number;
  /** Lines and letters a kill cut off, standing alone: allowed, their tasks run again. */
  torn: number;
  /** Lines and letters that ran into another: the next server appended to a torn one. */
  joined: number;
}

/** Which notification lines are whole, and which are this run's. */
export interface TallyOptions {
  /** Every notification's message. */
  readonly message: string;
  /** This run's mark in each address: a PostgreSQL queue may hold an earlier run's. */
  readonly run: string;
}

const REPORT = /^report (\S+): [0-9a-f]{8} after \d+ rounds$/;

/** Reads `log.txt*` and `dl.jsonl*` in `dirs` and counts them. */
export async function tally(dirs: readonly string[], options: TallyOptions): Promise<Tally> {
  const notification = new RegExp(`^notification for (\\S+): ${options.message}$`);
  const counted: Tally = {
    lines: new Map(),
    letters: new Map(),
    letterLines: 0,
    torn: 0,
    joined: 0,
  };
  const notWhole = (line: string, start: string | RegExp): void => {
    if (line.split(start).length > 2) counted.joined++;
    else counted.torn++;
  };
  const count = (key: string) => counted.lines.set(key, (counted.lines.get(key) ?? 0) + 1);
  for await (const line of lines(dirs, "log.txt")) {
    const report = REPORT.exec(line)?.[1];
    if (report !== undefined) {
      count(report);
      continue;
    }
    const email = notification.exec(line)?.[1];
    if (email === undefined) notWhole(line, /notification for |report /);
    else if (email.endsWith(`.${options.run}@example.com`)) count(email);
  }
  for await (const letter of lines(dirs, "dl.jsonl")) {
    try {
      const { args, reason } = JSON.parse(letter);
      counted.letterLines++;
      counted.letters.set(String(args?.[0]), String(reason));
    } catch {
      notWhole(letter, '{"reason":');
    }
  }
  return counted;
}

/**
 * The lines of the files of this name in `dirs` (and those rotated away,
 * `name.1`, …); read as a stream, since 100 kills of long lines make more
 * than a string can hold.
 */
async function* lines(dirs: readonly string[], name: string): AsyncGenerator<string> {
  const paths = [];
  for (const dir of dirs) {
    for await (const { name: file } of Deno.readDir(dir)) {
      if (file === name || file.startsWith(`${name}.`)) paths.push(`${dir}/${file}`);
    }
  }
  for (const path of paths) {
    const file = await Deno.open(path).catch(() => undefined);
    if (file === undefined) continue;
    let rest = "";
    for await (const text of file.readable.pipeThrough(new TextDecoderStream())) {
      const split = (rest + text).split("\n");
      rest = split.pop()!;
      yield* split.filter(Boolean);
    }
    if (rest) yield rest;
  }
}
