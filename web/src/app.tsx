import type { ReactNode } from 'react';
import { useEffect, useState } from 'react';
import { navigate, renderRoute, useLocation } from './router.js';
import type { Route } from './router.js';
import { useSession } from './session.js';
import { Loading } from './ui.js';
import { AccountActivity, AccountData, AccountMfa, AccountProfile, AccountSessions } from './pages/account.js';
import { AuditLog } from './pages/audit.js';
import { AcceptInvitation, ForgotPassword, ResetPassword, SignIn, SignUp, VerifyEmail } from './pages/auth.js';
import { Shell } from './pages/layout.js';
import { Home, NewOrg, OrgApiKeys, OrgMembers, OrgOverview, OrgSettingsPage } from './pages/org.js';
import { PlatformHome, PlatformSignIn } from './pages/platform.js';
import { ConsentLookup, DsrDetail, DsrQueue, OptOuts, OrgExport, Ropa } from './pages/privacy.js';

// Pages anyone may open; each root is one of the server's PAGE_ROOTS (src/web/pages.ts).
const PUBLIC_ROUTES: Route[] = [
  { path: '/sign-in', render: () => <SignIn /> },
  { path: '/sign-up', render: () => <SignUp /> },
  { path: '/forgot-password', render: () => <ForgotPassword /> },
  { path: '/reset-password', render: () => <ResetPassword /> },
  { path: '/verify-email', render: () => <VerifyEmail /> },
  { path: '/accept-invitation', render: () => <AcceptInvitation /> },
  { path: '/platform/sign-in', render: () => <PlatformSignIn /> },
  { path: '/platform', render: () => <PlatformHome /> },
];

const SIGNED_IN_ROUTES: Route[] = [
  { path: '/', render: () => <Home /> },
  { path: '/account', render: () => <AccountProfile /> },
  { path: '/account/mfa', render: () => <AccountMfa /> },
  { path: '/account/sessions', render: () => <AccountSessions /> },
  { path: '/account/activity', render: () => <AccountActivity /> },
  { path: '/account/data', render: () => <AccountData /> },
  { path: '/orgs/new', render: () => <NewOrg /> },
  { path: '/orgs/:org', render: ({ org }) => <OrgOverview key={org} orgId={org!} /> },
  { path: '/orgs/:org/members', render: ({ org }) => <OrgMembers key={org} orgId={org!} /> },
  { path: '/orgs/:org/api-keys', render: ({ org }) => <OrgApiKeys key={org} orgId={org!} /> },
  { path: '/orgs/:org/settings', render: ({ org }) => <OrgSettingsPage key={org} orgId={org!} /> },
  { path: '/orgs/:org/audit', render: ({ org }) => <AuditLog key={org} orgId={org!} /> },
  { path: '/orgs/:org/privacy', render: ({ org }) => <DsrQueue key={org} orgId={org!} /> },
  { path: '/orgs/:org/privacy/requests/:id', render: ({ org, id }) => <DsrDetail orgId={org!} requestId={id!} /> },
  { path: '/orgs/:org/privacy/consents', render: ({ org }) => <ConsentLookup key={org} orgId={org!} /> },
  { path: '/orgs/:org/privacy/opt-outs', render: ({ org }) => <OptOuts key={org} orgId={org!} /> },
  { path: '/orgs/:org/privacy/ropa', render: ({ org }) => <Ropa key={org} orgId={org!} /> },
  { path: '/orgs/:org/privacy/export', render: ({ org }) => <OrgExport key={org} orgId={org!} /> },
];

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        <a href="/">Go to the dashboard</a>
      </p>
    </>
  );
}

/** Sends a signed-out visitor of a private page to sign-in, remembering where they were going. */
function ToSignIn() {
  // Read once, at the first render: by a second run of the effect the location is sign-in's own.
  const [next] = useState(() => location.pathname + location.search);
  useEffect(() => {
    navigate(next === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`, { replace: true });
  }, [next]);
  return null;
}

/** Moves focus to the new page's heading, so keyboard and screen-reader users hear the change. */
function FocusOnNavigate({ path, children }: { path: string; children: ReactNode }) {
  useEffect(() => {
    const heading = document.querySelector<HTMLElement>('main h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
    document.title = heading?.textContent ? `${heading.textContent} · Rampart` : 'Rampart';
  }, [path]);
  return <>{children}</>;
}

export function App() {
  const { path } = useLocation();
  const { state } = useSession();
  const publicPage = renderRoute(PUBLIC_ROUTES, path, null);
  if (publicPage) return <FocusOnNavigate path={path}>{publicPage}</FocusOnNavigate>;
  if (state.status === 'loading') {
    return (
      <main id="main">
        <Loading what="Opening your session" />
      </main>
    );
  }
  if (state.status === 'signed-out') return <ToSignIn />;
  return (
    <Shell>
      <FocusOnNavigate path={path}>{renderRoute(SIGNED_IN_ROUTES, path, <NotFound />)}</FocusOnNavigate>
    </Shell>
  );
}
