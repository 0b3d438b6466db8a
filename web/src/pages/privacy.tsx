import { useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { ApiError, describeError, download, saveBlob, userApi } from '../api.js';
import { Link } from '../router.js';
import { Async, Empty, ErrorNote, Field, Form, SelectField, formatTime, useAsync } from '../ui.js';
import { DataTable } from '../components/data-table.js';
import { SubNav } from './layout.js';
import { OrgPage, orgPath } from './org.js';

const DSR_TYPES: Array<[string, string]> = [
  ['access', 'Access (Art. 15)'],
  ['portability', 'Portability (Art. 20)'],
  ['rectification', 'Rectification (Art. 16)'],
  ['erasure', 'Erasure (Art. 17)'],
  ['restriction', 'Restriction (Art. 18)'],
  ['objection', 'Objection (Art. 21)'],
];

interface Dsr {
  id: string;
  type: string;
  subject_id: string;
  status: 'received' | 'in_progress' | 'completed' | 'rejected';
  created_at: string;
  due_at: string;
  overdue: boolean;
  extension_reason: string | null;
  rejection_reason: string | null;
  closed_at: string | null;
  erase_after: string | null;
}

interface HistoryEntry {
  seq: number;
  at: string;
  event: string;
  actor: { type: string; id: string | null };
  detail: Record<string, unknown>;
}

const isOpen = (request: Dsr) => request.status === 'received' || request.status === 'in_progress';

function PrivacyPage({ orgId, title, children }: { orgId: string; title: string; children: ReactNode }) {
  const tabs: Array<[string, string]> = [
    [orgPath(orgId, '/privacy'), 'Requests'],
    [orgPath(orgId, '/privacy/consents'), 'Consents'],
    [orgPath(orgId, '/privacy/opt-outs'), 'Opt-outs'],
    [orgPath(orgId, '/privacy/ropa'), 'Records of processing'],
    [orgPath(orgId, '/privacy/export'), 'Organization export'],
  ];
  return (
    <OrgPage orgId={orgId} title={title}>
      {() => (
        <>
          <SubNav label="Privacy" tabs={tabs} />
          {children}
        </>
      )}
    </OrgPage>
  );
}

/** A route this server does not offer yet answers 404: say so in words instead of "Not found". */
function Unavailable({ error, children }: { error: unknown; children?: ReactNode }) {
  if (error instanceof ApiError && error.status === 404 && error.message.startsWith('No route')) {
    return <Empty>This feature is not available on this server version.</Empty>;
  }
  return children ? <>{children}</> : <ErrorNote error={error} />;
}

function AsyncOr<T>({ state, children }: { state: Parameters<typeof Async<T>>[0]['state']; children: (data: T) => ReactNode }) {
  if (state.status === 'error') return <Unavailable error={state.error} />;
  return <Async state={state}>{children}</Async>;
}

export function DsrQueue({ orgId }: { orgId: string }) {
  const [status, setStatus] = useState('');
  const [overdueOnly, setOverdueOnly] = useState(false);
  const requests = useAsync(() => {
    const query = new URLSearchParams({ limit: '100', ...(status ? { status } : {}), ...(overdueOnly ? { overdue: 'true' } : {}) });
    return userApi.get<{ data: Dsr[] }>(`/v1/orgs/${orgId}/dsr?${query}`);
  }, [orgId, status, overdueOnly]);
  return (
    <PrivacyPage orgId={orgId} title="Data-subject requests">
      <section className="card stack">
        <h2>New request</h2>
        <Form
          className="row wrap"
          submitLabel="Record request"
          onSubmit={async ({ type, subject_id, email }, form) => {
            await userApi.json('POST', `/v1/orgs/${orgId}/dsr`, { type, subject_id, ...(email ? { email } : {}) });
            form.reset();
            requests.reload();
            return 'Request recorded; it is due in 30 days.';
          }}
        >
          <SelectField label="Type" name="type" options={DSR_TYPES} />
          <Field label="Subject id" name="subject_id" required maxLength={256} />
          <Field label="Email (optional)" name="email" type="email" hint="Objection adds it to the opt-out list." />
        </Form>
      </section>
      <section className="card stack">
        <div className="row wrap">
          <SelectField
            label="Status"
            value={status}
            onChange={(event) => setStatus(event.target.value)}
            options={[
              ['', 'Any'],
              ['received', 'Received'],
              ['in_progress', 'In progress'],
              ['completed', 'Completed'],
              ['rejected', 'Rejected'],
            ]}
          />
          <label className="check">
            <input type="checkbox" checked={overdueOnly} onChange={(event) => setOverdueOnly(event.target.checked)} /> Overdue only
          </label>
        </div>
        <AsyncOr state={requests}>
          {({ data }) =>
            <DataTable items={[...data].sort((a, b) => a.due_at.localeCompare(b.due_at))} empty="No requests." caption="Data-subject requests by due date" columns={['Due', 'Type', 'Subject', 'Status', 'Received']}>
              {(request) => (
                <tr key={request.id} className={request.overdue ? 'overdue' : undefined}>
                  <td>
                    {formatTime(request.due_at)} {request.overdue && <span className="badge bad">overdue</span>}
                  </td>
                  <td>
                    <Link to={orgPath(orgId, `/privacy/requests/${request.id}`)}>{request.type}</Link>
                  </td>
                  <td>{request.subject_id}</td>
                  <td>
                    <span className="badge">{request.status}</span>
                  </td>
                  <td>{formatTime(request.created_at)}</td>
                </tr>
              )}
            </DataTable>
          }
        </AsyncOr>
      </section>
    </PrivacyPage>
  );
}

/** The actions a request of this type and status allows (API.md "Privacy", src/privacy/dsr). */
function DsrActions({ orgId, dsr, onChange }: { orgId: string; dsr: Dsr; onChange: () => void }) {
  const base = `/v1/orgs/${orgId}/dsr/${dsr.id}`;
  const [error, setError] = useState<unknown>(null);
  const act = (work: () => Promise<unknown>) => () => {
    setError(null);
    work().then(onChange, setError);
  };
  return (
    <div className="stack">
      <p className="row">
        {(dsr.type === 'access' || dsr.type === 'portability') && (
          <button type="button" onClick={act(() => download(userApi, `${base}/export`, `subject-${dsr.subject_id}.json`))}>
            Download the access bundle (JSON)
          </button>
        )}
        {dsr.type === 'erasure' && dsr.status === 'completed' && (
          <button type="button" onClick={act(() => download(userApi, `${base}/receipt`, `erasure-receipt-${dsr.id}.json`))}>
            Download the erasure receipt
          </button>
        )}
        {dsr.type === 'rectification' && isOpen(dsr) && (
          <button type="button" onClick={act(() => userApi.json('POST', `${base}/corrections`))}>
            Apply the corrections
          </button>
        )}
        {dsr.type === 'erasure' && (
          <button type="button" onClick={act(() => userApi.json('POST', `${base}/confirmations`, {}))}>
            Confirm our systems erased it too
          </button>
        )}
        {dsr.status === 'received' && (
          <button type="button" onClick={act(() => userApi.json('POST', `${base}/status`, { status: 'in_progress' }))}>
            Start work
          </button>
        )}
        {isOpen(dsr) && (
          <button type="button" className="primary" onClick={act(() => userApi.json('POST', `${base}/status`, { status: 'completed' }))}>
            Mark completed
          </button>
        )}
      </p>
      <ErrorNote error={error} />
      {isOpen(dsr) && (
        <div className="grid">
          <Form
            danger
            submitLabel="Reject request"
            onSubmit={async ({ reason }) => {
              await userApi.json('POST', `${base}/status`, { status: 'rejected', reason });
              onChange();
            }}
          >
            <Field label="Reason for rejection" name="reason" required maxLength={1000} />
          </Form>
          {!dsr.extension_reason && (
            <Form
              submitLabel="Extend deadline"
              onSubmit={async ({ months, reason }) => {
                await userApi.json('POST', `${base}/extension`, { months: Number(months), reason });
                onChange();
              }}
            >
              <SelectField
                label="Extend by"
                name="months"
                options={[
                  ['1', 'One month'],
                  ['2', 'Two months'],
                ]}
              />
              <Field label="Reason for the extension (Art. 12(3))" name="reason" required maxLength={1000} />
            </Form>
          )}
        </div>
      )}
    </div>
  );
}

export function DsrDetail({ orgId, requestId }: { orgId: string; requestId: string }) {
  const request = useAsync(() => userApi.get<Dsr & { history: HistoryEntry[] }>(`/v1/orgs/${orgId}/dsr/${requestId}`), [orgId, requestId]);
  return (
    <PrivacyPage orgId={orgId} title="Request">
      <AsyncOr state={request}>
        {(dsr) => (
          <>
            <section className="card stack">
              <dl className="pairs">
                <dt>Type</dt>
                <dd>{dsr.type}</dd>
                <dt>Subject</dt>
                <dd>{dsr.subject_id}</dd>
                <dt>Status</dt>
                <dd>
                  <span className="badge">{dsr.status}</span> {dsr.overdue && <span className="badge bad">overdue</span>}
                </dd>
                <dt>Received</dt>
                <dd>{formatTime(dsr.created_at)}</dd>
                <dt>Due</dt>
                <dd>{formatTime(dsr.due_at)}</dd>
                {dsr.extension_reason && (
                  <>
                    <dt>Extended because</dt>
                    <dd>{dsr.extension_reason}</dd>
                  </>
                )}
                {dsr.rejection_reason && (
                  <>
                    <dt>Rejected because</dt>
                    <dd>{dsr.rejection_reason}</dd>
                  </>
                )}
                {dsr.erase_after && (
                  <>
                    <dt>Data keys destroyed after</dt>
                    <dd>{formatTime(dsr.erase_after)}</dd>
                  </>
                )}
              </dl>
              <DsrActions orgId={orgId} dsr={dsr} onChange={request.reload} />
            </section>
            <section className="card stack">
              <h2>History</h2>
              {dsr.history.length > 0 ? (
                <ol className="history">
                  {dsr.history.map((entry) => (
                    <li key={entry.seq}>
                      <strong>{formatTime(entry.at)}</strong> <code>{entry.event}</code> by {entry.actor.type}
                      {Object.keys(entry.detail).length > 0 && <span className="muted small"> {JSON.stringify(entry.detail)}</span>}
                    </li>
                  ))}
                </ol>
              ) : (
                <Empty>No history yet.</Empty>
              )}
            </section>
          </>
        )}
      </AsyncOr>
    </PrivacyPage>
  );
}

interface ConsentRecord {
  id: string;
  purposes: Record<string, boolean>;
  source: string;
  policy_version: string;
  signal: 'gpc' | 'dnt' | null;
  recorded_at: string;
}

function Purposes({ purposes }: { purposes: Record<string, boolean> }) {
  return (
    <>
      {Object.entries(purposes).map(([purpose, granted]) => (
        <span key={purpose} className={`badge ${granted ? 'ok' : ''}`}>
          {purpose}: {granted ? 'yes' : 'no'}
        </span>
      ))}
    </>
  );
}

export function ConsentLookup({ orgId }: { orgId: string }) {
  const [result, setResult] = useState<{ subject: string; current: ConsentRecord | null; history: ConsentRecord[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <PrivacyPage orgId={orgId} title="Consents">
      <section className="card stack">
        <Form
          className="row wrap"
          submitLabel="Look up"
          onSubmit={async ({ subject_id }) => {
            setError(null);
            setResult(null);
            try {
              const found = await userApi.get<{ current: ConsentRecord | null; history: ConsentRecord[] }>(`/v1/orgs/${orgId}/consents/${encodeURIComponent(subject_id ?? '')}`);
              setResult({ subject: subject_id ?? '', ...found });
            } catch (failure) {
              setError(failure);
            }
          }}
        >
          <Field label="Subject id" name="subject_id" required maxLength={256} />
        </Form>
        {error !== null && (
          <Unavailable error={error}>
            {error instanceof ApiError && error.status === 404 ? <Empty>No consent recorded for this subject.</Empty> : <ErrorNote error={error} />}
          </Unavailable>
        )}
        {result && (
          <>
            <h2>Current consent of {result.subject}</h2>
            <p>{result.current ? <Purposes purposes={result.current.purposes} /> : 'None recorded.'}</p>
            <DataTable items={result.history} caption="Consent history" columns={['When', 'Purposes', 'Source', 'Policy']}>
              {(record) => (
                <tr key={record.id}>
                  <td>{formatTime(record.recorded_at)}</td>
                  <td>
                    <Purposes purposes={record.purposes} />
                  </td>
                  <td>
                    {record.source}
                    {record.signal ? ` (${record.signal.toUpperCase()} signal)` : ''}
                  </td>
                  <td>{record.policy_version}</td>
                </tr>
              )}
            </DataTable>
          </>
        )}
      </section>
    </PrivacyPage>
  );
}

interface Suppression {
  id: string;
  source: string;
  created_at: string;
}

/** The opt-out list keeps keyed hashes only: an address is checked or removed by typing it. */
export function OptOuts({ orgId }: { orgId: string }) {
  const path = `/v1/orgs/${orgId}/suppressions`;
  const list = useAsync(() => userApi.get<{ data: Suppression[] }>(`${path}?limit=100`), [orgId]);
  return (
    <PrivacyPage orgId={orgId} title="Opt-out list">
      <section className="card stack">
        <p>Rampart keeps only a keyed hash of each address, so the list shows hashes; type an address to check or remove it.</p>
        <div className="grid">
          <Form
            submitLabel="Add to opt-out list"
            onSubmit={async ({ email }, form) => {
              const result = await userApi.json<{ created: boolean }>('POST', path, { email });
              form.reset();
              list.reload();
              return result.created ? 'Added.' : 'It was already on the list.';
            }}
          >
            <Field label="Email to add" name="email" type="email" required />
          </Form>
          <Form
            submitLabel="Check"
            onSubmit={async ({ email }) => {
              const result = await userApi.json<{ suppressed: boolean }>('POST', `${path}/check`, { email });
              return result.suppressed ? `${email} is on the opt-out list.` : `${email} is not on the list.`;
            }}
          >
            <Field label="Email to check" name="email" type="email" required />
          </Form>
          <Form
            danger
            submitLabel="Remove from list"
            onSubmit={async ({ email }, form) => {
              await userApi.json('DELETE', path, { email });
              form.reset();
              list.reload();
              return 'Removed.';
            }}
          >
            <Field label="Email to remove" name="email" type="email" required />
          </Form>
        </div>
        <AsyncOr state={list}>
          {({ data }) =>
            <DataTable items={data} empty="Nobody has opted out." caption="Opted-out addresses (keyed hashes)" columns={['Address hash', 'Source', 'Since']}>
              {(entry) => (
                <tr key={entry.id}>
                  <td>
                    <code className="hash">{entry.id.slice(0, 16)}…</code>
                  </td>
                  <td>{entry.source}</td>
                  <td>{formatTime(entry.created_at)}</td>
                </tr>
              )}
            </DataTable>
          }
        </AsyncOr>
      </section>
    </PrivacyPage>
  );
}

/** Renders any JSON value as nested lists: the ROPA's shape is the API's to grow. */
function JsonView({ value }: { value: unknown }): ReactNode {
  if (Array.isArray(value)) {
    return (
      <ol>
        {value.map((item, index) => (
          <li key={index}>
            <JsonView value={item} />
          </li>
        ))}
      </ol>
    );
  }
  if (value && typeof value === 'object') {
    return (
      <dl className="pairs">
        {Object.entries(value).map(([key, item]) => (
          <div key={key}>
            <dt>{key.replaceAll('_', ' ')}</dt>
            <dd>
              <JsonView value={item} />
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  return <>{value === null || value === undefined ? '—' : String(value)}</>;
}

export function Ropa({ orgId }: { orgId: string }) {
  const ropa = useAsync(() => userApi.get<unknown>(`/v1/orgs/${orgId}/ropa`), [orgId]);
  return (
    <PrivacyPage orgId={orgId} title="Records of processing activities">
      <section className="card stack printable">
        <p className="row no-print">
          <button type="button" onClick={() => window.print()}>
            Print
          </button>
          <button type="button" onClick={() => ropa.status === 'ready' && saveBlob(new Blob([JSON.stringify(ropa.data, null, 2)], { type: 'application/json' }), `ropa-${orgId}.json`)}>
            Download JSON
          </button>
        </p>
        <AsyncOr state={ropa}>{(data) => <JsonView value={data} />}</AsyncOr>
      </section>
    </PrivacyPage>
  );
}

interface ExportStatus {
  id: string;
  status: string;
  items_done?: number;
  items_total?: number | null;
}

const POLL_MS = 1000;

/**
 * The whole-org export: started here, then polled until the server has the ZIP ready. The status
 * route answers 202 with progress while the job runs, and the ZIP once it is done.
 */
export function OrgExport({ orgId }: { orgId: string }) {
  const [state, setState] = useState<ExportStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);

  const poll = async (id: string) => {
    try {
      const response = await userApi.fetch('GET', `/v1/orgs/${orgId}/exports/${id}`);
      if (response.status === 200) {
        const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `org-export-${orgId}.zip`;
        saveBlob(await response.blob(), name);
        setState({ id, status: 'downloaded' });
        return;
      }
      setState((await response.json()) as ExportStatus);
      timer.current = setTimeout(() => void poll(id), POLL_MS);
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <PrivacyPage orgId={orgId} title="Organization export">
      <section className="card stack">
        <p>A ZIP of all of this organization's data (owners only). Large organizations take a while; keep this page open and the download starts when it is ready.</p>
        <Form
          submitLabel="Export all data"
          onSubmit={async ({ password }) => {
            setError(null);
            const started = await userApi.json<{ id: string }>('POST', `/v1/orgs/${orgId}/exports`, password ? { password } : {});
            setState({ id: started.id, status: 'pending' });
            void poll(started.id);
          }}
        >
          <Field label="Your password" name="password" type="password" autoComplete="current-password" hint="Needed when you signed in more than 10 minutes ago." />
        </Form>
        {state && (
          <div role="status" className="stack">
            <p>
              Export <code>{state.id}</code>: <strong data-testid="export-status">{state.status}</strong>
            </p>
            {state.items_total ? (
              <p>
                <progress max={state.items_total} value={state.items_done ?? 0} aria-label="Export progress" /> {state.items_done ?? 0} of {state.items_total} parts
              </p>
            ) : null}
          </div>
        )}
        {error !== null && <Unavailable error={error}>{<p className="error" role="alert">{describeError(error)}</p>}</Unavailable>}
      </section>
    </PrivacyPage>
  );
}
