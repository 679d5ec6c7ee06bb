// What a path names now, as device and inode: how the app tells that a log
// file was rotated away (Reopens), or that two configured paths are one
// file (checkDistinctFiles). Internal.

/**
 * The device and inode the path names now, or undefined if it cannot be
 * told: gone, no inode on this system, or no read grant (asked first:
 * `Deno.stat` would prompt for it at a terminal).
 */
export async function fileIdentity(path: string): Promise<string | undefined> {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
  return await Deno.stat(path).then(
    ({ dev, ino }) => ino === null ? undefined : `${dev}:${ino}`,
    () => undefined,
  );
}
