// Dead-letter lines read back for a replay: each a JSON record that
// deadLetterLine wrote, its task id `<group id>/<index>`. Internal to runReplay.
import { z } from "zod";
import type { DeadLetter } from "./dead_letter.ts";

/** What a replay needs of one dead letter. */
export interface ReplayLetter {
  readonly reason: DeadLetter["reason"];
  readonly task: string;
  readonly groupId: string;
  /** The task's place in its group: its id, `<group id>/<index>`, stays. */
  readonly index: number;
  readonly args: unknown[];
}

export const REASONS = ["failed", "shutdown", "crash_loop", "unknown_task", "unreadable"] as const;

const LETTER = z.object({
  reason: z.enum(REASONS),
  task: z.string(),
  taskId: z.string(),
  groupId: z.string(),
  args: z.array(z.unknown()),
});

/** The dead letters read, and the lines that held only the start of one. */
export interface DeadLetterInput {
  readonly letters: ReplayLetter[];
  /**
   * Numbers of lines a kill cut off while they were written: JSON that ends
   * early. The next start ended each with a newline; its arguments may be
   * incomplete, and in durable mode its task was not yet journaled failed.
   */
  readonly cutOff: number[];
}

// Lines named in an error message: a whole file of bad lines is not all listed.
const NAMED = 5;
const CUT_OFF = Symbol("cut off");

/**
 * Reads dead letters, one a line (blank lines skipped), as the text streams
 * in: the letters are kept, not the text. A letter a kill cut off is counted
 * apart, not replayed.
 *
 * @throws {Error} `Cannot read dead letters: line 3 (…), …`, naming each bad
 * line (up to five): nothing is replayed from text that is not all letters.
 */
export async function readDeadLetters(
  input: ReadableStream<Uint8Array>,
): Promise<DeadLetterInput> {
  const letters: ReplayLetter[] = [];
  const cutOff: number[] = [];
  const bad: string[] = [];
  let number = 0;
  const line = (text: string): void => {
    number++;
    if (text.trim() === "") return;
    const problem = read(text, letters);
    if (problem === CUT_OFF) cutOff.push(number);
    else if (problem !== undefined) bad.push(`line ${number} (${problem})`);
  };
  let rest = "";
  for await (const chunk of input.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() as string;
    lines.forEach(line);
  }
  line(rest);
  if (bad.length > 0) {
    const more = bad.length > NAMED ? `, and ${bad.length - NAMED} more` : "";
    throw new Error(
      `Cannot read dead letters: ${bad.slice(0, NAMED).join(", ")}${more} ${
        bad.length === 1 ? "is not a dead letter" : "are not dead letters"
      }; nothing was replayed`,
    );
  }
  return { letters, cutOff };
}

/** Adds the letter on `line` to `letters`, or says what is wrong with it. */
function read(line: string, letters: ReplayLetter[]): string | typeof CUT_OFF | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (error) {
    const { message } = error as Error;
    if (endsEarly(line, message)) return CUT_OFF;
    // Its "(line 1 column 91)" would contradict the line named.
    return message.replace(/ \(line \d+ column \d+\)$/, "");
  }
  const parsed = LETTER.safeParse(json);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    return `${issue?.path.join(".") || "the line"}: ${issue?.message}`;
  }
  const { reason, task, taskId, groupId, args } = parsed.data;
  const index = taskId.startsWith(`${groupId}/`) ? Number(taskId.slice(groupId.length + 1)) : NaN;
  if (!Number.isSafeInteger(index) || index < 0 || taskId !== `${groupId}/${index}`) {
    return `taskId ${JSON.stringify(taskId)} is not "<groupId>/<index>"`;
  }
  letters.push({ reason, task, groupId, index, args });
  return undefined;
}

/**
 * Whether `line` is the start of a letter (deadLetterLine writes `reason`
 * first) whose JSON failed only because it ended: V8 says "end of JSON
 * input", or names a position at the line's end.
 */
function endsEarly(line: string, message: string): boolean {
  if (!line.startsWith('{"reason":"')) return false;
  const position = / at position (\d+)/.exec(message)?.[1];
  return message.includes("end of JSON input") || Number(position) >= line.length;
}
