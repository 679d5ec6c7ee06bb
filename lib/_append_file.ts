// The file side of LogWriter: opening for appending, seeing whether a crash
// left the last line torn, and cutting a failed batch off again.
import type { WriteTarget } from "./log_writer_options.ts";

const NEWLINE = 0x0a;

/** A file opened for appending, and whether it ends mid-line. */
export interface AppendFile {
  /** The handle; appends go to the end, whatever its position. */
  file: Deno.FsFile;
  /** Its last byte is not a newline (seen only with read access). */
  endsMidLine: boolean;
}

/**
 * Opens `path` for appending, creating it with `mode`. With read access too,
 * where Deno grants it and the OS allows it, to see whether the file ends
 * mid-line: a server killed during a write leaves a fragment there (Linux
 * stops a write to a file at a page boundary on SIGKILL).
 */
export async function openAppendFile(path: string | URL, mode?: number): Promise<AppendFile> {
  const flags = { append: true, create: true, ...(mode !== undefined && { mode }) };
  const readable = Deno.permissions.querySync({ name: "read", path }).state === "granted";
  const file = readable ? await openReadable(path, flags) : undefined;
  if (file === undefined) return { file: await Deno.open(path, flags), endsMidLine: false };
  try {
    canLook.add(file);
    return { file, endsMidLine: await endsMidLine(file) };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** Opens the file for reading too, or nothing if the OS refuses to (a write-only file). */
async function openReadable(
  path: string | URL,
  options: Deno.OpenOptions,
): Promise<Deno.FsFile | undefined> {
  try {
    return await Deno.open(path, { ...options, read: true });
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) return undefined;
    throw error;
  }
}

/** Files opened with read access, whose last byte can be looked at again. */
const canLook = new WeakSet<object>();

/**
 * Whether a file seen torn still ends mid-line, looked at again just before
 * the line that ends it is written: another process appending to it (a
 * replay beside the server) may have been halfway through a write when it
 * was opened, and has ended its line since. True where it cannot look.
 */
export async function stillEndsMidLine(target: WriteTarget): Promise<boolean> {
  if (!canLook.has(target)) return true;
  try {
    return await endsMidLine(target as Deno.FsFile);
  } catch {
    return true;
  }
}

async function endsMidLine(file: Deno.FsFile): Promise<boolean> {
  const { size } = await file.stat();
  if (size === 0) return false;
  const last = await tail(file, size, 1);
  return last !== undefined && last[0] !== NEWLINE;
}

/** The file's last `length` bytes of its `size`, or undefined if it ends sooner. */
async function tail(
  file: Deno.FsFile,
  size: number,
  length: number,
): Promise<Uint8Array | undefined> {
  const bytes = new Uint8Array(length);
  await file.seek(size - length, Deno.SeekMode.Start);
  for (let read = 0; read < length;) {
    const n = await file.read(bytes.subarray(read));
    if (n === null) return undefined;
    read += n;
  }
  return bytes;
}

/**
 * Cuts the bytes a failed batch `wrote` off the end of the target's file if
 * it can; whether it did. Where it can look, only if they are still the
 * file's last bytes: another process appending to the file (a replay beside
 * the server) may have written a line after them, and cutting would take
 * that line instead. The fragment then stays, run into that line.
 */
export async function cut(target: WriteTarget, wrote: Uint8Array): Promise<boolean> {
  if (target.stat === undefined || target.truncate === undefined) return false;
  try {
    const { size } = await target.stat();
    // Shorter than what the batch wrote: truncated under the writer (copytruncate).
    if (size < wrote.length) return false;
    if (canLook.has(target)) {
      const last = await tail(target as Deno.FsFile, size, wrote.length);
      if (!last?.every((byte, i) => byte === wrote[i])) return false;
    }
    await target.truncate(size - wrote.length);
    return true;
  } catch {
    return false;
  }
}
