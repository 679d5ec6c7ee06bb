// A URL's password never reaches an error message or a log. A regular
// expression, not `new URL`, so that a value which is not a valid URL (the
// configuration error that reports it) is cleaned too. Internal.

/** `text` with the password of every `scheme://user:password@` part removed. */
export function withoutPassword(text: string): string {
  return text.replace(/(\/\/[^/:@\s]*):[^/@\s]*@/g, "$1@");
}
