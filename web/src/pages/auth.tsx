import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { userApi } from '../api.js';
import { Link, navigate, useLocation } from '../router.js';
import { useSession } from '../session.js';
import { Async, Field, Form, useAsync } from '../ui.js';

interface SignInOptions {
  signup: 'open' | 'invite_only';
  oidc_providers: Array<{ id: string; name: string }>;
}

type LoginResult = { access_token: string } | { mfa_required: true; mfa_token: string };

/** Where to go after signing in: a same-site path the sign-in was asked for, else the home page. */
export function nextPath(query: URLSearchParams): string {
  const next = query.get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function withNext(path: string, query: URLSearchParams): string {
  const next = query.get('next');
  return next ? `${path}?next=${encodeURIComponent(next)}` : path;
}

export function AuthFrame({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <main id="main" className="auth-frame">
      <p className="brand">Rampart</p>
      <div className="card">
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

function ProviderButtons({ providers }: { providers: SignInOptions['oidc_providers'] }) {
  if (providers.length === 0) return null;
  return (
    <div className="stack providers">
      <p className="muted">Or</p>
      {providers.map((provider) => (
        <a key={provider.id} className="button" href={`/v1/auth/oidc/${encodeURIComponent(provider.id)}/start?client=dashboard`}>
          Sign in with {provider.name}
        </a>
      ))}
    </div>
  );
}

/** The second step of a sign-in with MFA on: a TOTP code or one recovery code. */
export function MfaStep({ submit }: { submit: (code: string) => Promise<void> }) {
  return (
    <Form submitLabel="Verify" onSubmit={async ({ code }) => submit((code ?? '').trim())}>
      <p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
      <Field label="Authentication code" name="code" autoComplete="one-time-code" required autoFocus minLength={6} maxLength={32} />
    </Form>
  );
}

/** What a provider sign-in that failed says: the address carries a code only, never text to show. */
const OIDC_ERRORS: Record<string, string> = {
  external_sign_in_failed: 'The sign-in with the provider did not complete; start again.',
  external_email_missing: 'The sign-in provider did not share a valid email address.',
  external_email_unverified: 'The sign-in provider has not verified this email address; verify it there, or sign in with your password.',
  signup_disabled: 'Sign-up is by invitation only: ask an organization admin to invite you.',
  provider_not_found: 'That sign-in provider is not configured here.',
};

export function SignIn() {
  const { query } = useLocation();
  const { state, reload } = useSession();
  const options = useAsync(() => userApi.get<SignInOptions>('/v1/auth/options'), []);
  // A provider sign-in that needs the second factor comes back with the challenge in the fragment
  // (never sent to a server); it is taken out of the address bar at once.
  const [mfaToken, setMfaToken] = useState<string | null>(() => new URLSearchParams(location.hash.slice(1)).get('mfa_token'));
  useEffect(() => {
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  }, []);
  const oidcError = query.get('oidc_error');
  const message = oidcError !== null ? (OIDC_ERRORS[oidcError] ?? OIDC_ERRORS.external_sign_in_failed!) : state.status === 'signed-out' ? state.message : null;

  const finish = async () => {
    await reload();
    navigate(nextPath(query), { replace: true });
  };

  if (mfaToken) {
    return (
      <AuthFrame title="Two-factor authentication">
        <MfaStep
          submit={async (code) => {
            await userApi.signInRequest('/v1/auth/login/mfa', { mfa_token: mfaToken, code });
            await finish();
          }}
        />
        <p>
          <button type="button" className="link" onClick={() => setMfaToken(null)}>
            Start over
          </button>
        </p>
      </AuthFrame>
    );
  }

  return (
    <AuthFrame title="Sign in">
      {message && (
        <p className="notice" role="alert">
          {message}
        </p>
      )}
      <Form
        submitLabel="Sign in"
        onSubmit={async ({ email, password }) => {
          const result = await userApi.signInRequest<LoginResult>('/v1/auth/login', { email, password });
          if ('mfa_required' in result) setMfaToken(result.mfa_token);
          else await finish();
        }}
      >
        <Field label="Email" name="email" type="email" autoComplete="username" required autoFocus />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
      </Form>
      <p>
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
      <Async state={options}>
        {(data) => (
          <>
            {data.signup === 'open' && (
              <p>
                New here? <Link to={withNext('/sign-up', query)}>Create an account</Link>
              </p>
            )}
            <ProviderButtons providers={data.oidc_providers} />
          </>
        )}
      </Async>
      <p className="muted small">
        Platform staff: <Link to="/platform/sign-in">sign in to the platform console</Link>
      </p>
    </AuthFrame>
  );
}

export function SignUp() {
  const { query } = useLocation();
  const { reload } = useSession();
  const invitation = query.get('invitation');
  const options = useAsync(() => userApi.get<SignInOptions>('/v1/auth/options'), []);
  return (
    <AuthFrame title="Create your account">
      <Async state={options}>
        {(data) =>
          data.signup === 'invite_only' && !invitation ? (
            <p>Accounts here are created by invitation only. Ask an administrator of your organization to invite you.</p>
          ) : (
            <Form
              submitLabel="Create account"
              onSubmit={async ({ email, password, name }) => {
                await userApi.json('POST', '/v1/auth/signup', { email, password, ...(name ? { name } : {}), ...(invitation ? { invitation_token: invitation } : {}) });
                const result = await userApi.signInRequest<LoginResult>('/v1/auth/login', { email, password });
                if ('mfa_required' in result) return navigate(withNext('/sign-in', query));
                await reload();
                navigate(invitation ? nextPath(query) : '/account?welcome=1', { replace: true });
              }}
            >
              {invitation && <p>Use the email address your invitation was sent to.</p>}
              <Field label="Email" name="email" type="email" autoComplete="username" required autoFocus />
              <Field label="Name (optional)" name="name" autoComplete="name" maxLength={200} />
              <Field label="Password" name="password" type="password" autoComplete="new-password" required hint="At least a few unusual words; the strength check explains what is missing." />
            </Form>
          )
        }
      </Async>
      <p>
        Already have an account? <Link to={withNext('/sign-in', query)}>Sign in</Link>
      </p>
    </AuthFrame>
  );
}

export function ForgotPassword() {
  const [sent, setSent] = useState(false);
  return (
    <AuthFrame title="Reset your password">
      {sent ? (
        <p role="status">If an account exists for that address, we have sent it a link to reset the password. The link works once, for one hour.</p>
      ) : (
        <Form
          submitLabel="Send reset link"
          onSubmit={async ({ email }) => {
            await userApi.json('POST', '/v1/auth/password/forgot', { email });
            setSent(true);
          }}
        >
          <Field label="Email" name="email" type="email" autoComplete="username" required autoFocus />
        </Form>
      )}
      <p>
        <Link to="/sign-in">Back to sign-in</Link>
      </p>
    </AuthFrame>
  );
}

/**
 * A page reached from an emailed link: a form spends the link's token (a button, never an automatic
 * request: mail scanners that open links must not act for the reader), then the page says so.
 */
function TokenLinkPage({ title, submitLabel, spend, done, children }: { title: string; submitLabel: string; spend: (token: string, values: Record<string, string>) => Promise<void>; done: ReactNode; children?: ReactNode }) {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [spent, setSpent] = useState(false);
  return (
    <AuthFrame title={title}>
      {spent ? (
        <p role="status">{done}</p>
      ) : (
        <Form
          submitLabel={submitLabel}
          onSubmit={async (values) => {
            await spend(token, values);
            setSpent(true);
          }}
        >
          {children}
        </Form>
      )}
    </AuthFrame>
  );
}

export function ResetPassword() {
  return (
    <TokenLinkPage
      title="Choose a new password"
      submitLabel="Set password"
      spend={async (token, { password }) => {
        await userApi.json('POST', '/v1/auth/password/reset', { token, password });
      }}
      done={
        <>
          Your password has been changed and every session was signed out. <Link to="/sign-in">Sign in</Link> with the new password.
        </>
      }
    >
      <Field label="New password" name="password" type="password" autoComplete="new-password" required autoFocus />
    </TokenLinkPage>
  );
}

export function VerifyEmail() {
  return (
    <TokenLinkPage
      title="Confirm your email address"
      submitLabel="Confirm my email address"
      spend={async (token) => {
        await userApi.json('POST', '/v1/auth/email/verify', { token });
      }}
      done={
        <>
          Thank you: your email address is confirmed. <Link to="/">Continue</Link>
        </>
      }
    />
  );
}

export function AcceptInvitation() {
  const { query, path } = useLocation();
  const { state, reload } = useSession();
  const token = query.get('token') ?? '';
  const here = `${path}?token=${encodeURIComponent(token)}`;
  if (state.status !== 'signed-in') {
    return (
      <AuthFrame title="You are invited">
        <p>Sign in with the email address the invitation was sent to, or create an account with it, to join the organization.</p>
        <p className="row">
          <Link className="button primary" to={`/sign-in?next=${encodeURIComponent(here)}`}>
            Sign in
          </Link>
          <Link className="button" to={`/sign-up?invitation=${encodeURIComponent(token)}&next=${encodeURIComponent(here)}`}>
            Create an account
          </Link>
        </p>
      </AuthFrame>
    );
  }
  return (
    <AuthFrame title="Join the organization">
      <p>
        Signed in as <strong>{state.me.email}</strong>.
      </p>
      <Form
        submitLabel="Accept invitation"
        onSubmit={async () => {
          const result = await userApi.json<{ org: { id: string } }>('POST', '/v1/invitations/accept', { token });
          await reload();
          navigate(`/orgs/${result.org.id}`, { replace: true });
        }}
      />
    </AuthFrame>
  );
}
