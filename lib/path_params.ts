/**
 * The parameters a URLPattern pathname names, as a type: `route()` gives its
 * handler `params.email` as a `string` for `"/users/:email"`.
 *
 * @module
 */

/**
 * Parameters as a route table holds them: any name, maybe missing.
 *
 * @example Reading one
 * ```ts
 * import type { RouteParams } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const params: RouteParams = { email: "ada@example.com" };
 * equal(params.email ?? "", "ada@example.com");
 * ```
 */
export type RouteParams = Readonly<Record<string, string | undefined>>;

/**
 * The `params` a route's handler gets for pathname `P`: each `:name` is a
 * `string`, or `string | undefined` with a `?` or `*` after it (its regexp
 * group, if any, in between). Any other key reads as `string | undefined`,
 * as does every key of a pattern this type does not take apart: one with
 * `{…}` groups (which may be optional), a name followed by more than its
 * modifier within its segment (`:a-:b`, `:file.json`), a pathname that is
 * not a literal type.
 *
 * @typeParam P The route's pathname pattern.
 *
 * @example Parameters of a pattern
 * ```ts
 * import type { PathParams } from "./mod.ts";
 *
 * const params: PathParams<"/users/:id(\\d+)/files/:name?"> = { id: "7" };
 * const id: string = params.id;
 * const name: string | undefined = params.name;
 * // @ts-expect-error: an optional parameter may be missing
 * const missing: string = params.name;
 * void [id, name, missing];
 * ```
 */
export type PathParams<P extends string> =
  // One segment at a time (the first `:` of each starts a name), as a name
  // and its modifier, a regexp group `(…)` between them if any; a pattern
  // with a `{…}` group or an escaped `\:` is not taken apart, nor is a name
  // with more after it in its segment.
  & RouteParams
  & (string extends P ? unknown
    : P extends `${string}${"{" | "\\:"}${string}` ? unknown
    : P extends `${string}:${infer After}`
      ? After extends `${infer Segment}/${infer Rest}`
        ? PathParams<`:${Segment}`> & PathParams<`/${Rest}`>
      : (
        After extends `${infer Name}(${string})${infer Modifier}` ? [Name, Modifier]
          : After extends `${infer Name}(${string}` ? [Name, ""] // its group held a `/`
          : After extends `${infer Name}${"?" | "*" | "+"}`
            ? [Name, After extends `${Name}${infer M}` ? M : ""]
          : [After, ""]
      ) extends [infer Name extends string, infer Modifier extends string]
        ? Name extends `${string}${"." | "-" | ":" | "~" | "@" | "!" | "," | ";" | "="}${string}`
          ? unknown
        : Name extends "" | `${string}${"(" | ")" | "\\" | "+" | "*" | "?"}${string}` ? unknown
        : Modifier extends "?" | "*" ? { readonly [K in Name]?: string }
        : Modifier extends "" | "+" ? { readonly [K in Name]: string }
        : unknown
      : unknown
    : unknown);
