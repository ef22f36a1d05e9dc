/**
 * What the studio page needs before its first API call, written into the page by the server
 * (`studio-plugin.ts`) and read by the front-end (`studio/src/main.tsx`).
 */
export interface StudioSettings {
  /** Sign-up and sign-in are open (`auth.signup`, with auth on): the page offers the form. */
  readonly signup: boolean;
}
