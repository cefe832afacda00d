/// <reference lib="dom" />
/*
 * app.ts brings in the DOM library, and a lib reference reaches the whole program (there is one
 * tsconfig). DOM types fetch's json() as `any` where Node's own types give `unknown`; this
 * overload, merged ahead of DOM's, keeps every caller, in the browser code and in the Node
 * code, on `unknown`, so the type-checked lint still sees an unchecked response body.
 */
interface Body {
  json(): Promise<unknown>;
}
