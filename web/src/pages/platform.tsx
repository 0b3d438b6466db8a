import { useEffect, useState } from 'react';
import { ApiError, platformApi } from '../api.js';
import { Link, navigate, useLocation } from '../router.js';
import { Async, Empty, ErrorNote, Field, Form, formatTime, useAsync } from '../ui.js';
import { DataTable } from '../components/data-table.js';
import { RecoveryCodes } from './account.js';
import { AuthFrame, MfaStep } from './auth.js';

interface Challenge {
  mfa_required: true;
  mfa_token: string;
  mfa_enrolment_required?: true;
}

interface Enrolment {
  secret: string;
  qr_svg: string;
}

/** Staff sign-in: its own realm, MFA always, and a first-time TOTP enrolment when needed. */
export function PlatformSignIn() {
  const { query } = useLocation();
  const [challenge, setChallenge] = useState<Challenge | null>(null);
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const message = query.get('ended') ? 'Your platform session has ended. Sign in again.' : null;

  if (codes) {
    return (
      <AuthFrame title="Platform console">
        <RecoveryCodes codes={codes} onDone={() => navigate('/platform', { replace: true })} />
      </AuthFrame>
    );
  }
  if (challenge?.mfa_enrolment_required) {
    return (
      <AuthFrame title="Set up two-factor authentication">
        {enrolment ? (
          <>
            <img className="qr" src={`data:image/svg+xml;base64,${btoa(enrolment.qr_svg)}`} alt="QR code for your authenticator app" width={200} height={200} />
            <p>
              Key: <code data-testid="totp-secret">{enrolment.secret}</code>
            </p>
            <Form
              submitLabel="Confirm"
              onSubmit={async ({ code }) => {
                const result = await platformApi.json<{ tokens: { access_token: string; expires_in: number }; recovery_codes: string[] }>(
                  'POST',
                  '/v1/platform/auth/mfa/confirm',
                  { mfa_token: challenge.mfa_token, code: (code ?? '').trim() },
                  { 'x-rampart-session': 'cookie' },
                );
                platformApi.accept(result.tokens);
                setCodes(result.recovery_codes);
              }}
            >
              <Field label="Code from the app" name="code" inputMode="numeric" autoComplete="one-time-code" required />
            </Form>
          </>
        ) : (
          <Form submitLabel="Show QR code" onSubmit={async () => setEnrolment(await platformApi.json<Enrolment>('POST', '/v1/platform/auth/mfa/enrol', { mfa_token: challenge.mfa_token }))}>
            <p>Platform accounts must use an authenticator app. Set it up now to finish signing in.</p>
          </Form>
        )}
      </AuthFrame>
    );
  }
  if (challenge) {
    return (
      <AuthFrame title="Platform console: code">
        <MfaStep
          submit={async (code) => {
            await platformApi.signInRequest('/v1/platform/auth/login/mfa', { mfa_token: challenge.mfa_token, code });
            navigate('/platform', { replace: true });
          }}
        />
      </AuthFrame>
    );
  }
  return (
    <AuthFrame title="Platform console sign-in">
      {message && (
        <p className="notice" role="alert">
          {message}
        </p>
      )}
      <p className="muted">For Rampart operators only. Organization members sign in <Link to="/sign-in">here</Link>.</p>
      <Form submitLabel="Continue" onSubmit={async ({ email, password }) => setChallenge(await platformApi.json<Challenge>('POST', '/v1/platform/auth/login', { email, password }))}>
        <Field label="Email" name="email" type="email" autoComplete="username" required autoFocus />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
      </Form>
    </AuthFrame>
  );
}

interface Tenant {
  id: string;
  name: string;
  plan: string;
  created_at: string;
  members: number;
  members_with_mfa: number;
  mfa_required_for: string;
}

/** The tenants list: plan and MFA coverage, and nothing of what tenants store. */
export function PlatformHome() {
  const [ready, setReady] = useState(platformApi.signedIn);
  useEffect(() => {
    platformApi.onSessionEnded = () => navigate('/platform/sign-in?ended=1', { replace: true });
    if (!ready) void platformApi.refresh().then((ok) => (ok ? setReady(true) : navigate('/platform/sign-in', { replace: true })));
  }, [ready]);
  const me = useAsync(() => (ready ? platformApi.get<{ email: string }>('/v1/platform/me') : new Promise<never>(() => undefined)), [ready]);
  const tenants = useAsync(() => (ready ? platformApi.get<{ data: Tenant[] }>('/v1/platform/tenants?limit=200') : new Promise<never>(() => undefined)), [ready]);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar platform">
        <span className="brand">Rampart platform</span>
        <Async state={me}>
          {(staff) => (
            <p className="row">
              {staff.email}
              <button type="button" onClick={() => void platformApi.signOut().finally(() => navigate('/platform/sign-in', { replace: true }))}>
                Sign out
              </button>
            </p>
          )}
        </Async>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>Tenants</h1>
        <section className="card">
          {tenants.status === 'error' && tenants.error instanceof ApiError && tenants.error.status === 404 ? (
            <Empty>The tenants list is not available on this server version.</Empty>
          ) : tenants.status === 'error' ? (
            <ErrorNote error={tenants.error} />
          ) : (
            <Async state={tenants}>
              {({ data }) =>
                <DataTable items={data} empty="No tenants yet." caption="Tenants" columns={['Organization', 'Plan', 'Members', 'MFA coverage', 'MFA policy', 'Created']}>
                  {(tenant) => (
                    <tr key={tenant.id}>
                      <td>{tenant.name}</td>
                      <td>{tenant.plan}</td>
                      <td>{tenant.members}</td>
                      <td>
                        <meter min={0} max={Math.max(1, tenant.members)} value={tenant.members_with_mfa} aria-label={`MFA coverage of ${tenant.name}`} /> {tenant.members_with_mfa}/{tenant.members}
                      </td>
                      <td>{tenant.mfa_required_for}</td>
                      <td>{formatTime(tenant.created_at)}</td>
                    </tr>
                  )}
                </DataTable>
              }
            </Async>
          )}
        </section>
      </main>
    </>
  );
}
