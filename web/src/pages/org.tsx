import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { ApiError, userApi } from '../api.js';
import { BarChart } from '../chart.js';
import { Link, navigate } from '../router.js';
import { useMe, useSession } from '../session.js';
import type { OrgRef } from '../session.js';
import { Async, ConfirmButton, CopyButton, Empty, ErrorNote, Field, Form, SelectField, formatTime, useAsync } from '../ui.js';
import { DataTable } from '../components/data-table.js';
import { DeleteButton } from '../components/delete-button.js';
import { SubNav } from './layout.js';

const ROLES: Array<[string, string]> = [
  ['member', 'Member'],
  ['admin', 'Admin'],
  ['owner', 'Owner'],
];
const RANK = { member: 0, admin: 1, owner: 2 } as const;

export const orgPath = (org: string, rest = '') => `/orgs/${encodeURIComponent(org)}${rest}`;

/** The caller's membership of `orgId` (from /v1/me), or null when it is not theirs. */
export function useOrg(orgId: string): OrgRef | null {
  return useMe().orgs.find((org) => org.id === orgId) ?? null;
}

export function isAdmin(org: OrgRef): boolean {
  return RANK[org.role] >= RANK.admin;
}

/** Every org page: its name, its tabs, and a 404 in words for an org that is not the caller's. */
export function OrgPage({ orgId, title, children }: { orgId: string; title: string; children: (org: OrgRef) => ReactNode }) {
  const org = useOrg(orgId);
  if (!org) {
    return (
      <>
        <h1>Organization not found</h1>
        <p>
          It does not exist, or you are not a member. <Link to="/">Back to your organizations</Link>
        </p>
      </>
    );
  }
  const tabs: Array<[string, string]> = [
    [orgPath(orgId), 'Overview'],
    [orgPath(orgId, '/members'), 'Members'],
    [orgPath(orgId, '/api-keys'), 'API keys'],
    [orgPath(orgId, '/audit'), 'Audit log'],
    [orgPath(orgId, '/privacy'), 'Privacy'],
    [orgPath(orgId, '/settings'), 'Settings'],
  ];
  return (
    <>
      <p className="muted small">
        {org.name} · your role: {org.role}
      </p>
      <h1>{title}</h1>
      <SubNav label="Organization" tabs={tabs} />
      {children(org)}
    </>
  );
}

export function Home() {
  const first = useMe().orgs[0];
  useEffect(() => {
    if (first) navigate(orgPath(first.id), { replace: true });
  }, [first]);
  return first ? null : <NewOrg first />;
}

export function NewOrg({ first = false }: { first?: boolean }) {
  const { reload } = useSession();
  return (
    <>
      <h1>{first ? 'Create your first organization' : 'New organization'}</h1>
      <section className="card stack">
        <p>An organization holds your team, its API keys, its audit log and its privacy records. You will be its owner.</p>
        <Form
          submitLabel="Create organization"
          onSubmit={async ({ name }) => {
            const org = await userApi.json<{ id: string }>('POST', '/v1/orgs', { name });
            await reload();
            navigate(orgPath(org.id));
          }}
        >
          <Field label="Organization name" name="name" required maxLength={200} autoFocus />
        </Form>
      </section>
    </>
  );
}

interface AuditEvent {
  id: string;
  seq: number;
  at: string;
  action: string;
}

const DAY_MS = 86_400_000;
const CHART_DAYS = 14;
const MAX_PAGES = 10;

function dayLabels(days: number, now = Date.now()): string[] {
  return Array.from({ length: days }, (_, index) => new Date(now - (days - 1 - index) * DAY_MS).toISOString().slice(0, 10));
}

/** The last fortnight of the org's audit log, newest first (a few pages at most). */
async function recentEvents(orgId: string): Promise<AuditEvent[]> {
  const since = new Date(Date.now() - CHART_DAYS * DAY_MS).toISOString();
  const events: AuditEvent[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query = new URLSearchParams({ since, limit: '200', ...(cursor ? { cursor } : {}) });
    const result: { data: AuditEvent[]; next_cursor: string | null } = await userApi.get(`/v1/orgs/${orgId}/audit?${query}`);
    events.push(...result.data);
    cursor = result.next_cursor;
    if (!cursor) break;
  }
  return events;
}

interface Dsr {
  id: string;
  type: string;
  status: string;
  due_at: string;
}

/** Open data-subject requests; null when this server has no privacy routes. */
async function openRequests(orgId: string): Promise<Dsr[] | null> {
  try {
    const result = await userApi.get<{ data: Dsr[] }>(`/v1/orgs/${orgId}/dsr?limit=100`);
    return result.data.filter((request) => !['completed', 'rejected', 'closed'].includes(request.status));
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return null;
    throw error;
  }
}

export function OrgOverview({ orgId }: { orgId: string }) {
  const stats = useAsync(async () => {
    const [events, requests] = await Promise.all([recentEvents(orgId), openRequests(orgId)]);
    const labels = dayLabels(CHART_DAYS);
    const count = (predicate: (event: AuditEvent) => boolean) => labels.map((day) => events.filter((event) => event.at.startsWith(day) && predicate(event)).length);
    return {
      labels,
      signIns: count((event) => event.action === 'auth.login.succeeded'),
      failures: count((event) => event.action === 'auth.login.failed'),
      volume: count(() => true),
      requests,
      total: events.length,
    };
  }, [orgId]);
  return (
    <OrgPage orgId={orgId} title="Overview">
      {() => (
        <Async state={stats}>
          {(data) => (
            <div className="grid">
              <section className="card">
                <BarChart
                  title={`Sign-ins of members, last ${CHART_DAYS} days`}
                  labels={data.labels.map((day) => day.slice(5))}
                  series={[
                    { name: 'Succeeded', className: 'series-ok' },
                    { name: 'Failed', className: 'series-bad' },
                  ]}
                  values={[data.signIns, data.failures]}
                />
              </section>
              <section className="card">
                <BarChart title={`Audit log volume, last ${CHART_DAYS} days`} labels={data.labels.map((day) => day.slice(5))} series={[{ name: 'Events', className: 'series-info' }]} values={[data.volume]} />
              </section>
              <section className="card">
                <DsrDueChart requests={data.requests} orgId={orgId} />
              </section>
            </div>
          )}
        </Async>
      )}
    </OrgPage>
  );
}

function DsrDueChart({ requests, orgId }: { requests: Dsr[] | null; orgId: string }) {
  if (requests === null) return <Empty>Data-subject requests are not available on this server.</Empty>;
  const now = Date.now();
  const buckets: Array<[string, (due: number) => boolean]> = [
    ['Overdue', (due) => due < now],
    ['This week', (due) => due >= now && due < now + 7 * DAY_MS],
    ['Next week', (due) => due >= now + 7 * DAY_MS && due < now + 14 * DAY_MS],
    ['Later', (due) => due >= now + 14 * DAY_MS],
  ];
  const values = buckets.map(([, test]) => requests.filter((request) => test(new Date(request.due_at).getTime())).length);
  return (
    <>
      <BarChart title="Open data-subject requests by due date" labels={buckets.map(([label]) => label)} series={[{ name: 'Requests', className: 'series-warn' }]} values={[values]} />
      <p>
        <Link to={orgPath(orgId, '/privacy')}>Open the request queue</Link>
      </p>
    </>
  );
}

interface Member {
  user_id: string;
  email: string;
  name: string | null;
  role: 'owner' | 'admin' | 'member';
  mfa_enabled: boolean;
}

interface Invitation {
  id: string;
  email: string;
  role: string;
  created_at: string;
  expires_at: string;
  status: string;
}

function RoleChanger({ orgId, member, onChanged }: { orgId: string; member: Member; onChanged: () => void }) {
  const [role, setRole] = useState(member.role);
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      className="row"
      onSubmit={(event) => {
        event.preventDefault();
        setError(null);
        userApi.json('PATCH', `/v1/orgs/${orgId}/members/${member.user_id}`, { role }).then(onChanged, setError);
      }}
    >
      <SelectField label={`Role of ${member.email}`} options={ROLES} value={role} onChange={(event) => setRole(event.target.value as Member['role'])} />
      <button type="submit" disabled={role === member.role}>
        Change role
      </button>
      <ErrorNote error={error} />
    </form>
  );
}

export function OrgMembers({ orgId }: { orgId: string }) {
  const me = useMe();
  const { reload } = useSession();
  const members = useAsync(() => userApi.get<{ data: Member[] }>(`/v1/orgs/${orgId}/members`), [orgId]);
  const invitations = useAsync(() => userApi.get<{ data: Invitation[] }>(`/v1/orgs/${orgId}/invitations`).catch(() => ({ data: [] as Invitation[] })), [orgId]);
  return (
    <OrgPage orgId={orgId} title="Members">
      {(org) => (
        <>
          <section className="card">
            <Async state={members}>
              {({ data }) => (
                <DataTable items={data} caption="Members" columns={['Member', 'Role', 'Two-factor']} actionsColumn="Actions">
                  {(member) => (
                    <tr key={member.user_id} data-member={member.email}>
                      <td>
                        {member.name ? `${member.name} · ` : ''}
                        {member.email}
                      </td>
                      <td>
                        {isAdmin(org) && member.user_id !== me.id ? (
                          <RoleChanger orgId={orgId} member={member} onChanged={members.reload} />
                        ) : (
                          <span className="badge">{member.role}</span>
                        )}
                      </td>
                      <td>{member.mfa_enabled ? <span className="badge ok">on</span> : <span className="badge warn">off</span>}</td>
                      <td>
                        {(isAdmin(org) || member.user_id === me.id) && (
                          <ConfirmButton
                            label={member.user_id === me.id ? 'Leave' : 'Remove'}
                            question={member.user_id === me.id ? 'Leave this organization?' : `Remove ${member.email}?`}
                            onConfirm={async () => {
                              await userApi.json('DELETE', `/v1/orgs/${orgId}/members/${member.user_id}`);
                              if (member.user_id === me.id) {
                                await reload();
                                navigate('/');
                              } else members.reload();
                            }}
                          />
                        )}
                      </td>
                    </tr>
                  )}
                </DataTable>
              )}
            </Async>
          </section>
          {isAdmin(org) && (
            <section className="card stack">
              <h2>Invitations</h2>
              <Form
                className="row wrap"
                submitLabel="Send invitation"
                onSubmit={async ({ email, role }, form) => {
                  await userApi.json('POST', `/v1/orgs/${orgId}/invitations`, { email, role });
                  form.reset();
                  invitations.reload();
                  return `Invitation sent to ${email}.`;
                }}
              >
                <Field label="Email to invite" name="email" type="email" required />
                <SelectField label="Role" name="role" options={ROLES.filter(([role]) => org.role === 'owner' || role !== 'owner')} defaultValue="member" />
              </Form>
              <Async state={invitations}>
                {({ data }) =>
                  <DataTable items={data} empty="No invitations yet." caption="Invitations" columns={['Email', 'Role', 'Status', 'Expires']} actionsColumn="Actions">
                    {(invitation) => (
                      <tr key={invitation.id}>
                        <td>{invitation.email}</td>
                        <td>{invitation.role}</td>
                        <td>
                          <span className="badge">{invitation.status}</span>
                        </td>
                        <td>{formatTime(invitation.expires_at)}</td>
                        <td>
                          {invitation.status === 'pending' && (
                            <DeleteButton
                              label="Revoke"
                              question={`Revoke the invitation of ${invitation.email}?`}
                              path={`/v1/orgs/${orgId}/invitations/${invitation.id}`}
                              onDeleted={invitations.reload}
                            />
                          )}
                        </td>
                      </tr>
                    )}
                  </DataTable>
                }
              </Async>
            </section>
          )}
        </>
      )}
    </OrgPage>
  );
}

// The scopes of API.md "Organizations and access".
const SCOPES = ['audit:read', 'audit:write', 'records:read', 'records:write', 'dsr:read', 'dsr:write', 'consent:read', 'consent:write', 'members:read'];

interface ApiKey {
  id: string;
  name: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export function OrgApiKeys({ orgId }: { orgId: string }) {
  const keys = useAsync(() => userApi.get<{ data: ApiKey[] }>(`/v1/orgs/${orgId}/api-keys`), [orgId]);
  const [issued, setIssued] = useState<{ name: string; key: string } | null>(null);
  return (
    <OrgPage orgId={orgId} title="API keys">
      {(org) => (
        <>
          {issued && (
            <section className="card stack" role="region" aria-label="New API key">
              <h2>Your new key “{issued.name}”</h2>
              <p>Copy it now: it is shown only this once, and Rampart keeps only a hash of it.</p>
              <p className="row">
                <code className="secret" data-testid="new-api-key">
                  {issued.key}
                </code>
                <CopyButton text={issued.key} label="Copy key" />
                <button type="button" onClick={() => setIssued(null)}>
                  Done
                </button>
              </p>
            </section>
          )}
          {isAdmin(org) && (
            <section className="card stack">
              <h2>Create a key</h2>
              <Form
                submitLabel="Create key"
                onSubmit={async (values, form) => {
                  const scopes = SCOPES.filter((scope) => values[`scope:${scope}`] === 'on');
                  const days = Number(values.expires_in_days);
                  const result = await userApi.json<{ key: string; name: string }>('POST', `/v1/orgs/${orgId}/api-keys`, {
                    name: values.name,
                    scopes,
                    ...(days > 0 ? { expires_in_days: days } : {}),
                    ...(values.password ? { password: values.password } : {}),
                  });
                  setIssued({ name: result.name, key: result.key });
                  form.reset();
                  keys.reload();
                }}
              >
                <Field label="Name" name="name" required maxLength={100} />
                <fieldset>
                  <legend>Scopes</legend>
                  <div className="checks">
                    {SCOPES.map((scope) => (
                      <label key={scope}>
                        <input type="checkbox" name={`scope:${scope}`} /> {scope}
                      </label>
                    ))}
                  </div>
                </fieldset>
                <Field label="Expires after (days, optional)" name="expires_in_days" type="number" min={1} max={3650} />
                <Field label="Your password" name="password" type="password" autoComplete="current-password" hint="Needed when you signed in more than 10 minutes ago." />
              </Form>
            </section>
          )}
          <section className="card">
            <Async state={keys}>
              {({ data }) =>
                <DataTable items={data} empty="No API keys yet." caption="API keys" columns={['Name', 'Scopes', 'Created', 'Last used', 'Status']} actionsColumn="Actions">
                  {(key) => (
                    <tr key={key.id}>
                      <td>{key.name}</td>
                      <td>{key.scopes.join(', ')}</td>
                      <td>{formatTime(key.created_at)}</td>
                      <td>{formatTime(key.last_used_at)}</td>
                      <td>{key.revoked_at ? <span className="badge">revoked</span> : key.expires_at && new Date(key.expires_at) < new Date() ? <span className="badge">expired</span> : <span className="badge ok">active</span>}</td>
                      <td>
                        {isAdmin(org) && !key.revoked_at && (
                          <DeleteButton
                            label="Revoke"
                            question={`Revoke “${key.name}”? It stops working at once.`}
                            path={`/v1/orgs/${orgId}/api-keys/${key.id}`}
                            onDeleted={keys.reload}
                          />
                        )}
                      </td>
                    </tr>
                  )}
                </DataTable>
              }
            </Async>
          </section>
        </>
      )}
    </OrgPage>
  );
}

interface OrgSettings {
  id: string;
  name: string;
  plan: string;
  mfa_required_for: 'none' | 'owners' | 'admins' | 'all';
  invite_only: boolean;
  retention_days: number;
  erasure_grace_days: number;
}

const MFA_POLICIES: Array<[string, string]> = [
  ['none', 'Nobody'],
  ['owners', 'Owners'],
  ['admins', 'Admins and owners'],
  ['all', 'Everyone'],
];
const MFA_RANK = { none: 0, owners: 1, admins: 2, all: 3 } as const;

/** The changes that weaken protection or destroy data sooner, in words, for the confirmation step. */
export function dangerousChanges(before: OrgSettings, after: Partial<OrgSettings>): string[] {
  const risks: string[] = [];
  if (after.mfa_required_for && MFA_RANK[after.mfa_required_for] < MFA_RANK[before.mfa_required_for]) risks.push('Fewer members will be required to use two-factor authentication.');
  if (after.mfa_required_for && MFA_RANK[after.mfa_required_for] > MFA_RANK[before.mfa_required_for])
    risks.push('Members covered by the new policy without two-factor on will be refused until they turn it on.');
  if (after.invite_only === false && before.invite_only) risks.push('People will be able to join without an invitation.');
  if (after.retention_days !== undefined && after.retention_days < before.retention_days) risks.push(`Data older than ${after.retention_days} days will be deleted sooner.`);
  if (after.erasure_grace_days !== undefined && after.erasure_grace_days < before.erasure_grace_days)
    risks.push(after.erasure_grace_days === 0 ? 'Erased subjects’ data keys will be destroyed at once, with no time to undo a mistaken erasure.' : 'Erasures will become irreversible sooner.');
  return risks;
}

export function OrgSettingsPage({ orgId }: { orgId: string }) {
  const { reload } = useSession();
  const settings = useAsync(() => userApi.get<OrgSettings>(`/v1/orgs/${orgId}`), [orgId]);
  const [pending, setPending] = useState<{ changes: Partial<OrgSettings>; risks: string[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  const apply = async (changes: Partial<OrgSettings>) => {
    setError(null);
    try {
      await userApi.json('PATCH', `/v1/orgs/${orgId}`, changes);
      setPending(null);
      setSaved(true);
      settings.reload();
      await reload();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <OrgPage orgId={orgId} title="Settings">
      {(org) => (
        <Async state={settings}>
          {(current) => (
            <section className="card stack">
              <p>
                Plan: <strong>{current.plan}</strong>
              </p>
              {pending ? (
                <div className="stack confirm-panel" role="alertdialog" aria-labelledby="confirm-title">
                  <h2 id="confirm-title">Confirm these changes</h2>
                  <ul>
                    {pending.risks.map((risk) => (
                      <li key={risk}>{risk}</li>
                    ))}
                  </ul>
                  <p className="row">
                    <button type="button" className="danger" autoFocus onClick={() => void apply(pending.changes)}>
                      Apply changes
                    </button>
                    <button type="button" onClick={() => setPending(null)}>
                      Cancel
                    </button>
                  </p>
                </div>
              ) : (
                <form
                  // Fields are uncontrolled: a new key shows the saved values once they reload.
                  key={JSON.stringify(current)}
                  className="stack"
                  onSubmit={(event) => {
                    event.preventDefault();
                    const form = new FormData(event.currentTarget);
                    const next = {
                      name: String(form.get('name')),
                      mfa_required_for: String(form.get('mfa_required_for')) as OrgSettings['mfa_required_for'],
                      invite_only: form.get('invite_only') === 'on',
                      retention_days: Number(form.get('retention_days')),
                      erasure_grace_days: Number(form.get('erasure_grace_days')),
                    };
                    const changes = Object.fromEntries(Object.entries(next).filter(([key, value]) => current[key as keyof OrgSettings] !== value)) as Partial<OrgSettings>;
                    setSaved(false);
                    if (Object.keys(changes).length === 0) return;
                    const risks = dangerousChanges(current, changes);
                    if (risks.length > 0) setPending({ changes, risks });
                    else void apply(changes);
                  }}
                >
                  <fieldset disabled={!isAdmin(org)} className="stack">
                    <Field label="Name" name="name" defaultValue={current.name} required maxLength={200} />
                    <SelectField label="Two-factor authentication required for" name="mfa_required_for" options={MFA_POLICIES} defaultValue={current.mfa_required_for} />
                    <label className="check">
                      <input type="checkbox" name="invite_only" defaultChecked={current.invite_only} /> Invite only
                    </label>
                    <Field label="Retention (days)" name="retention_days" type="number" min={1} max={3650} defaultValue={current.retention_days} required />
                    <Field label="Erasure grace period (days)" name="erasure_grace_days" type="number" min={0} max={90} defaultValue={current.erasure_grace_days} required hint="How long an erased subject's data key is kept before it is destroyed (0: at once)." />
                    <div>
                      <button type="submit" className="primary">
                        Save settings
                      </button>
                    </div>
                  </fieldset>
                  {!isAdmin(org) && <p className="muted">Only admins and owners change settings.</p>}
                </form>
              )}
              <ErrorNote error={error} />
              {saved && (
                <p className="success" role="status">
                  Settings saved.
                </p>
              )}
            </section>
          )}
        </Async>
      )}
    </OrgPage>
  );
}
