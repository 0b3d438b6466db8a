import { useState } from 'react';
import { download, userApi } from '../api.js';
import { Async, ErrorNote, Field, Form, formatTime, useAsync } from '../ui.js';
import { DataTable } from '../components/data-table.js';
import { OrgPage } from './org.js';

interface AuditEvent {
  id: string;
  seq: number;
  at: string;
  action: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string | null } | null;
  ip: string | null;
  user_agent: string | null;
  metadata: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

interface Verification {
  valid: boolean;
  entries: number;
  head: { seq: number; hash: string } | null;
  first_invalid_seq?: number;
  reason?: string;
}

interface Checkpoint {
  size: number;
  root: string;
  time: string;
  signature: string;
  key_id: string;
}

const FILTERS = ['action', 'actor_id', 'target_id', 'since', 'until'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

/** datetime-local gives local wall time; the API wants RFC 3339. */
function toQuery(filters: Filters): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of FILTERS) {
    const value = filters[key]?.trim();
    if (!value) continue;
    query.set(key, key === 'since' || key === 'until' ? new Date(value).toISOString() : value);
  }
  return query;
}

function IntegrityCheck({ orgId }: { orgId: string }) {
  const [result, setResult] = useState<{ verification: Verification; checkpoint: Checkpoint | null } | null>(null);
  return (
    <section className="card stack" aria-labelledby="integrity-title">
      <h2 id="integrity-title">Integrity</h2>
      <p>Checks every entry's hash chain on the server and shows the latest signed tree head (a signed checkpoint you can keep and compare later).</p>
      <Form
        submitLabel="Verify integrity"
        onSubmit={async () => {
          const [verification, checkpoints] = await Promise.all([
            userApi.get<Verification>(`/v1/orgs/${orgId}/audit/verify`),
            userApi.get<{ data: Checkpoint[] }>(`/v1/orgs/${orgId}/audit/checkpoints?limit=1`),
          ]);
          setResult({ verification, checkpoint: checkpoints.data[0] ?? null });
        }}
      />
      {result && (
        <div role="status" className="stack">
          {result.verification.valid ? (
            <p className="success">
              Chain intact: {result.verification.entries} entries verified{result.verification.head ? `, head #${result.verification.head.seq}` : ''}.
            </p>
          ) : (
            <p className="error">
              Chain broken at entry #{result.verification.first_invalid_seq}
              {result.verification.reason ? `: ${result.verification.reason}` : ''}.
            </p>
          )}
          {result.verification.head && (
            <p className="small">
              Head hash: <code className="hash">{result.verification.head.hash}</code>
            </p>
          )}
          {result.checkpoint ? (
            <dl className="pairs small">
              <dt>Signed tree head</dt>
              <dd>
                size {result.checkpoint.size}, {formatTime(result.checkpoint.time)}
              </dd>
              <dt>Root</dt>
              <dd>
                <code className="hash">{result.checkpoint.root}</code>
              </dd>
              <dt>Key</dt>
              <dd>
                <code>{result.checkpoint.key_id}</code>
              </dd>
            </dl>
          ) : (
            <p className="muted small">No signed tree head yet: checkpoints are signed periodically.</p>
          )}
        </div>
      )}
    </section>
  );
}

function EventDetail({ event, onClose }: { event: AuditEvent; onClose: () => void }) {
  return (
    <section className="card stack" role="region" aria-label={`Audit entry ${event.seq}`}>
      <h2>Entry #{event.seq}</h2>
      <dl className="pairs">
        <dt>When</dt>
        <dd>{formatTime(event.at)}</dd>
        <dt>Action</dt>
        <dd>
          <code>{event.action}</code>
        </dd>
        <dt>Actor</dt>
        <dd>
          {event.actor.type} {event.actor.id ?? ''}
        </dd>
        <dt>Target</dt>
        <dd>{event.target ? `${event.target.type} ${event.target.id ?? ''}` : '—'}</dd>
        <dt>IP address</dt>
        <dd>{event.ip ?? '—'}</dd>
        <dt>User agent</dt>
        <dd>{event.user_agent ?? '—'}</dd>
        <dt>Hash</dt>
        <dd>
          <code className="hash">{event.hash}</code>
        </dd>
        <dt>Previous hash</dt>
        <dd>
          <code className="hash">{event.prev_hash}</code>
        </dd>
      </dl>
      <h3>Metadata</h3>
      <pre className="json">{JSON.stringify(event.metadata, null, 2)}</pre>
      <div>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </section>
  );
}

export function AuditLog({ orgId }: { orgId: string }) {
  const [filters, setFilters] = useState<Filters>({});
  // Cursors of the pages before the current one, for "Previous".
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [selected, setSelected] = useState<AuditEvent | null>(null);
  const [exportError, setExportError] = useState<unknown>(null);
  const cursor = cursors[cursors.length - 1] ?? null;
  const page = useAsync(() => {
    const query = toQuery(filters);
    query.set('limit', '25');
    if (cursor) query.set('cursor', cursor);
    return userApi.get<{ data: AuditEvent[]; next_cursor: string | null }>(`/v1/orgs/${orgId}/audit?${query}`);
  }, [orgId, filters, cursor]);

  const exportAs = (format: 'ndjson' | 'csv') => {
    const query = toQuery(filters);
    query.set('format', format);
    setExportError(null);
    download(userApi, `/v1/orgs/${orgId}/audit/export?${query}`, `audit-${orgId}.${format}`).catch(setExportError);
  };

  return (
    <OrgPage orgId={orgId} title="Audit log">
      {() => (
        <>
          <IntegrityCheck orgId={orgId} />
          <section className="card stack">
            <h2>Filter</h2>
            <form
              className="filters"
              onSubmit={(event) => {
                event.preventDefault();
                const form = new FormData(event.currentTarget);
                setFilters(Object.fromEntries(FILTERS.map((key) => [key, String(form.get(key) ?? '')])));
                setCursors([null]);
                setSelected(null);
              }}
            >
              <Field label="Action (or prefix like member.*)" name="action" />
              <Field label="Actor id" name="actor_id" />
              <Field label="Target id" name="target_id" />
              <Field label="From" name="since" type="datetime-local" />
              <Field label="Until" name="until" type="datetime-local" />
              <div className="row">
                <button type="submit" className="primary">
                  Apply filters
                </button>
              </div>
            </form>
            <p className="row">
              <button type="button" onClick={() => exportAs('ndjson')}>
                Export NDJSON
              </button>
              <button type="button" onClick={() => exportAs('csv')}>
                Export CSV
              </button>
            </p>
            <ErrorNote error={exportError} />
          </section>
          {selected && <EventDetail event={selected} onClose={() => setSelected(null)} />}
          <section className="card stack">
            <Async state={page}>
              {({ data, next_cursor }) => (
                <>
                  <DataTable items={data} empty="No entries match." caption="Audit entries, newest first" columns={['#', 'When', 'Action', 'Actor', 'Target']} actionsColumn="Details">
                    {(event) => (
                      <tr key={event.id} data-action={event.action}>
                        <td>{event.seq}</td>
                        <td>{formatTime(event.at)}</td>
                        <td>
                          <code>{event.action}</code>
                        </td>
                        <td>
                          {event.actor.type} <span className="muted small">{event.actor.id ?? ''}</span>
                        </td>
                        <td>{event.target ? `${event.target.type}` : '—'}</td>
                        <td>
                          <button type="button" onClick={() => setSelected(event)} aria-label={`Details of entry ${event.seq}`}>
                            Details
                          </button>
                        </td>
                      </tr>
                    )}
                  </DataTable>
                  <nav className="row" aria-label="Pages">
                    <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
                      Previous
                    </button>
                    <button type="button" disabled={!next_cursor} onClick={() => next_cursor && setCursors([...cursors, next_cursor])}>
                      Next
                    </button>
                  </nav>
                </>
              )}
            </Async>
          </section>
        </>
      )}
    </OrgPage>
  );
}
