import { useState } from 'react';
import { download, saveBlob, userApi } from '../api.js';
import { useMe, useSession } from '../session.js';
import { Async, CopyButton, Field, Form, formatTime, useAsync } from '../ui.js';
import { DataTable } from '../components/data-table.js';
import { DeleteButton } from '../components/delete-button.js';
import { SubNav } from './layout.js';

const ACCOUNT_TABS: Array<[string, string]> = [
  ['/account', 'Profile'],
  ['/account/mfa', 'Two-factor'],
  ['/account/sessions', 'Sessions'],
  ['/account/activity', 'Security events'],
  ['/account/data', 'Your data'],
];

function AccountPage({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <>
      <h1>{title}</h1>
      <SubNav label="Account" tabs={ACCOUNT_TABS} />
      {children}
    </>
  );
}

export function AccountProfile() {
  const me = useMe();
  const { reload } = useSession();
  return (
    <AccountPage title="Your account">
      <section className="card stack">
        <h2>Profile</h2>
        <p>
          Email: <strong>{me.email}</strong> {me.email_verified ? <span className="badge ok">verified</span> : <span className="badge warn">not verified: see the mail we sent</span>}
        </p>
        <Form
          submitLabel="Save name"
          onSubmit={async ({ name }) => {
            await userApi.json('PATCH', '/v1/me', { name: name ?? '' });
            await reload();
            return 'Your name was saved.';
          }}
        >
          <Field label="Name" name="name" defaultValue={me.name ?? ''} maxLength={200} autoComplete="name" />
        </Form>
      </section>
      <section className="card stack">
        <h2>Password</h2>
        <Form
          submitLabel="Change password"
          onSubmit={async ({ current_password, new_password }, form) => {
            await userApi.json('POST', '/v1/me/password', { current_password, new_password });
            form.reset();
            return 'Your password was changed; your other sessions were signed out.';
          }}
        >
          <Field label="Current password" name="current_password" type="password" autoComplete="current-password" required />
          <Field label="New password" name="new_password" type="password" autoComplete="new-password" required />
        </Form>
      </section>
    </AccountPage>
  );
}

interface Enrolment {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
}

/** Recovery codes, shown once: copy or download them now. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const text = `Rampart recovery codes (each works once)\n\n${codes.join('\n')}\n`;
  return (
    <div className="stack" role="region" aria-label="Recovery codes">
      <h2>Save your recovery codes</h2>
      <p>Each code signs you in once if you lose your authenticator. They are shown only now: copy or download them and keep them somewhere safe.</p>
      <ul className="codes" aria-label="Recovery codes list">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <p className="row">
        <CopyButton text={text} label="Copy codes" />
        <button type="button" onClick={() => saveBlob(new Blob([text], { type: 'text/plain' }), 'rampart-recovery-codes.txt')}>
          Download codes
        </button>
        <button type="button" className="primary" onClick={onDone}>
          I have saved them
        </button>
      </p>
    </div>
  );
}

export function AccountMfa() {
  const me = useMe();
  const { reload } = useSession();
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);

  let body: React.ReactNode;
  if (codes) {
    body = <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />;
  } else if (me.mfa_enabled) {
    body = (
      <>
        <p>
          <span className="badge ok">On</span> Sign-ins ask for a code from your authenticator app.
        </p>
        <h2>Turn two-factor authentication off</h2>
        <Form
          danger
          submitLabel="Turn off two-factor"
          onSubmit={async ({ password }) => {
            await userApi.json('DELETE', '/v1/me/mfa/totp', password ? { password } : {});
            await reload();
          }}
        >
          <Field label="Password" name="password" type="password" autoComplete="current-password" hint="Not needed within 10 minutes of signing in." />
        </Form>
      </>
    );
  } else if (enrolment) {
    body = (
      <>
        <p>Scan this code with your authenticator app, then enter the 6-digit code it shows.</p>
        <img className="qr" src={`data:image/svg+xml;base64,${btoa(enrolment.qr_svg)}`} alt="QR code to add Rampart to your authenticator app" width={200} height={200} />
        <details>
          <summary>Can't scan? Enter the key by hand</summary>
          <p>
            <code data-testid="totp-secret">{enrolment.secret}</code> <CopyButton text={enrolment.secret} label="Copy key" />
          </p>
        </details>
        <Form
          submitLabel="Confirm and turn on"
          onSubmit={async ({ code }) => {
            const result = await userApi.json<{ recovery_codes: string[] }>('POST', '/v1/me/mfa/totp/confirm', { code: (code ?? '').trim() });
            setEnrolment(null);
            setCodes(result.recovery_codes);
            await reload();
          }}
        >
          <Field label="Code from the app" name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" required />
        </Form>
      </>
    );
  } else {
    body = (
      <>
        <p>
          <span className="badge warn">Off</span> Add a second step to your sign-in with an authenticator app (TOTP).
        </p>
        <Form submitLabel="Set up two-factor" onSubmit={async () => setEnrolment(await userApi.json<Enrolment>('POST', '/v1/me/mfa/totp'))} />
      </>
    );
  }
  return (
    <AccountPage title="Two-factor authentication">
      <section className="card stack">{body}</section>
    </AccountPage>
  );
}

interface Session {
  id: string;
  created_at: string;
  last_used_at: string;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

/** A browser name and system from a user agent string, enough to recognise a device. */
function device(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const browser = /(Edg|Firefox|Chrome|Chromium|Safari|curl|node)[/ ]?[\d.]*/.exec(userAgent)?.[1] ?? 'Browser';
  const system = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(userAgent)?.[1] ?? '';
  return system ? `${browser} on ${system}` : browser;
}

export function AccountSessions() {
  const sessions = useAsync(() => userApi.get<{ data: Session[] }>('/v1/me/sessions'), []);
  return (
    <AccountPage title="Active sessions">
      <section className="card stack">
        <Async state={sessions}>
          {({ data }) =>
            <DataTable items={data} empty="No active sessions." caption="Active sessions" columns={['Device', 'IP address', 'Signed in', 'Last used']} actionsColumn="Actions">
              {(session) => (
                <tr key={session.id} data-session={session.id}>
                  <td>
                    {device(session.user_agent)} {session.current && <span className="badge ok">this browser</span>}
                  </td>
                  <td>{session.ip ?? '—'}</td>
                  <td>{formatTime(session.created_at)}</td>
                  <td>{formatTime(session.last_used_at)}</td>
                  <td>
                    {!session.current && (
                      <DeleteButton
                        label="Revoke"
                        question="Sign this device out?"
                        path={`/v1/me/sessions/${session.id}`}
                        onDeleted={sessions.reload}
                      />
                    )}
                  </td>
                </tr>
              )}
            </DataTable>
          }
        </Async>
        <div>
          <DeleteButton
            label="Sign out all other sessions"
            question="Sign out every other device?"
            confirmLabel="Yes, sign them out"
            path="/v1/me/sessions"
            onDeleted={sessions.reload}
          />
        </div>
      </section>
    </AccountPage>
  );
}

interface SecurityEvent {
  id: string;
  action: string;
  ip: string | null;
  user_agent: string | null;
  at: string;
}

export function AccountActivity() {
  const events = useAsync(() => userApi.get<{ data: SecurityEvent[] }>('/v1/me/security-events?limit=100'), []);
  return (
    <AccountPage title="Security events">
      <section className="card">
        <Async state={events}>
          {({ data }) =>
            <DataTable items={data} empty="No security events yet." caption="Your security events" columns={['When', 'What', 'IP address', 'Device']}>
              {(event) => (
                <tr key={event.id}>
                  <td>{formatTime(event.at)}</td>
                  <td>
                    <code>{event.action}</code>
                  </td>
                  <td>{event.ip ?? '—'}</td>
                  <td>{device(event.user_agent)}</td>
                </tr>
              )}
            </DataTable>
          }
        </Async>
      </section>
    </AccountPage>
  );
}

export function AccountData() {
  const { signOut } = useSession();
  return (
    <AccountPage title="Your data">
      <section className="card stack">
        <h2>Export your data</h2>
        <p>Download, as JSON, every piece of personal data Rampart holds about you.</p>
        <Form submitLabel="Download my data" onSubmit={async () => download(userApi, '/v1/me/export', 'rampart-my-data.json')} />
      </section>
      <section className="card stack">
        <h2>Delete your account</h2>
        <p>
          Your account becomes inaccessible at once and every session ends. Your personal data is kept for a grace period (so a mistaken or malicious deletion can be noticed) and then purged for good; the
          date is shown when you confirm. If you are the only owner of an organization, make someone else owner first.
        </p>
        <Form
          danger
          submitLabel="Delete my account"
          onSubmit={async ({ password }) => {
            const result = await userApi.json<{ purge_after: string }>('DELETE', '/v1/me', password ? { password } : {});
            await signOut(`Your account was deleted. Its data will be purged after ${formatTime(result.purge_after)}.`);
          }}
        >
          <Field label="Password" name="password" type="password" autoComplete="current-password" hint="Not needed within 10 minutes of signing in." />
        </Form>
      </section>
    </AccountPage>
  );
}
