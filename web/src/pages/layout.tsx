import type { ReactNode } from 'react';
import { Link, navigate, useLocation } from '../router.js';
import { useMe, useSession } from '../session.js';

/** Tabs; the current one is the longest that the path starts with (a request's page is under Privacy). */
export function SubNav({ label, tabs }: { label: string; tabs: Array<[string, string]> }) {
  const { path } = useLocation();
  const current = tabs
    .map(([to]) => to)
    .filter((to) => path === to || path.startsWith(`${to}/`))
    .sort((a, b) => b.length - a.length)[0];
  return (
    <nav className="subnav" aria-label={label}>
      <ul>
        {tabs.map(([to, text]) => (
          <li key={to}>
            <Link to={to} aria-current={to === current ? 'page' : undefined}>
              {text}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** The org the current path is about (`/orgs/:org/...`), if any. */
export function currentOrgId(path: string): string | null {
  const match = /^\/orgs\/([^/]+)/.exec(path);
  return match && match[1] !== 'new' ? decodeURIComponent(match[1]!) : null;
}

/** Switching is a submit, not a change event: arrowing through the list must not navigate away (WCAG 3.2.2). */
function OrgSwitcher() {
  const me = useMe();
  const { path } = useLocation();
  const current = currentOrgId(path);
  if (me.orgs.length === 0) return null;
  return (
    <form
      className="switcher"
      onSubmit={(event) => {
        event.preventDefault();
        const chosen = String(new FormData(event.currentTarget).get('org') ?? '');
        if (chosen) navigate(`/orgs/${chosen}`);
      }}
    >
      <label htmlFor="org-switcher">Organization</label>
      <select id="org-switcher" name="org" key={current ?? ''} defaultValue={current ?? ''}>
        {!current && <option value="">Choose…</option>}
        {me.orgs.map((org) => (
          <option key={org.id} value={org.id}>
            {org.name}
          </option>
        ))}
      </select>
      <button type="submit">Switch</button>
    </form>
  );
}

/** The signed-in frame: skip link, header with the org switcher and account menu, the page. */
export function Shell({ children }: { children: ReactNode }) {
  const me = useMe();
  const { signOut } = useSession();
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Rampart
        </Link>
        <OrgSwitcher />
        <nav aria-label="Account">
          <ul className="row">
            <li>
              <Link to="/orgs/new">New organization</Link>
            </li>
            <li>
              <Link to="/account">{me.name ?? me.email}</Link>
            </li>
            <li>
              <button
                type="button"
                onClick={() =>
                  void signOut('You have signed out.').then(() => navigate('/sign-in', { replace: true }))
                }
              >
                Sign out
              </button>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
