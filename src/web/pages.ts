/**
 * The first path segment of every dashboard page. The server answers these (and `/`) with the
 * app's index.html; the app's router (web/src/router.tsx) matches the same list. Anything else is
 * the API's, and an unknown path there stays a JSON 404.
 */
export const PAGE_ROOTS = [
  'sign-in',
  'sign-up',
  'forgot-password',
  'reset-password',
  'verify-email',
  'accept-invitation',
  'account',
  'orgs',
  'platform',
] as const;

export type PageRoot = (typeof PAGE_ROOTS)[number];
