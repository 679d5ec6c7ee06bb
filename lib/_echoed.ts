// User text echoed in an error's detail, cut to 100 characters: a 4 KB path
// is no one's route or id, and need not come back whole. Internal.
export function echoed(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
