import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { listAllPublicKeys } from '../crypto/signing-keys.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import { errorResponses, httpErrors, requestMeta } from '../platform/http/index.js';
import { authorize } from '../tenancy/index.js';
import type { OrgContext } from '../tenancy/index.js';
import {
  AuditEvent,
  AuditKeys,
  AuditParams,
  CheckpointPage,
  CheckpointQuery,
  ConsistencyQuery,
  EventPage,
  ExportQuery,
  InclusionQuery,
  ListQuery,
  NewEvent,
  VerifyResult,
} from './audit.schemas.js';
import { listCheckpoints } from './checkpoints.js';
import { exportEntries, exportStream, recordExport } from './export.js';
import type { HostEvents } from './host-events.js';
import { ConsistencyProofDocument, InclusionProofDocument } from './proof-document.js';
import { consistencyProof, inclusionProof } from './proofs.js';
import { decodeCursor, encodeCursor, listEntries } from './query.js';
import type { AuditFilters } from './query.js';
import { verifyChain } from './verify.js';
import type { VerifyResult as VerifyOutcome } from './verify.js';
import { SingleFlight, TooManyRuns } from './verify-runs.js';

export interface AuditRouteDependencies {
  db: Kysely<DB>;
  clock: Clock;
  hostEvents: HostEvents;
  /** Members, and org API keys within their scopes. */
  requireUserOrKey: (request: FastifyRequest) => Promise<void>;
}

// A stream: Fastify sends it as is, and the schema only documents it.
const ExportBody = Type.Unsafe<Readable>(Type.String({ description: 'NDJSON: one event per line; CSV: a header row, then one event per row' }));
const CONTENT_TYPES = { ndjson: 'application/x-ndjson; charset=utf-8', csv: 'text/csv; charset=utf-8' } as const;

/** The "Audit log" section of API.md: read, write (host events), export, verify, checkpoints, proofs. */
export async function auditRoutes(fastify: FastifyInstance, deps: AuditRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['audit'];
  const security = [{ bearer: [] }];
  const inOrg = { preHandler: deps.requireUserOrKey };
  const { db } = deps;
  // Two at once: verification is I/O-bound, and a third would only slow the first two down.
  const verifications = new SingleFlight<VerifyOutcome>(2);

  app.get(
    '/v1/orgs/:org/audit',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: 'Events of the organization, newest first (filters combine with AND)',
        params: AuditParams,
        querystring: ListQuery,
        response: { 200: EventPage, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { tenantId } = authorize(request, 'audit:read');
      const { limit, cursor } = request.query;
      const beforeSeq = cursor === undefined ? undefined : decodeCursor(cursor);
      const page = await withTenant(db, tenantId, (trx) => listEntries(trx, tenantId, filtersOf(request.query), { limit: limit + 1, ...(beforeSeq === undefined ? {} : { beforeSeq }) }));
      const data = page.slice(0, limit);
      return { data, next_cursor: page.length > limit ? encodeCursor(data[data.length - 1]!.seq) : null };
    },
  );

  app.post(
    '/v1/orgs/:org/audit/events',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: "Write one of the host application's own events into the organization's chain (an API key with audit:write)",
        params: AuditParams,
        body: NewEvent,
        response: { 201: AuditEvent, ...errorResponses(400, 401, 403, 404, 413, 503) },
      },
    },
    async (request, reply) => {
      const context = authorize(request, 'audit:write');
      // Members administer the org; the events of the host application come from its keys, so an
      // entry's writer is always a key the org issued, revocable on its own.
      if (context.actor.type !== 'api_key') throw httpErrors.forbidden('Only an org API key with the audit:write scope writes events');
      const { action, actor, target, metadata } = request.body;
      const event = await deps.hostEvents.append(context.tenantId, {
        action,
        actor: actor ?? { type: 'api_key', id: context.actor.id },
        target: target ?? null,
        metadata: metadata ?? {},
        requestId: request.id,
        meta: requestMeta(request),
      });
      return reply.status(201).send(event);
    },
  );

  app.get(
    '/v1/orgs/:org/audit/export',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: 'The whole log (or the filtered part), oldest first, streamed as NDJSON or CSV; the export is itself audited',
        params: AuditParams,
        querystring: ExportQuery,
        response: { 200: ExportBody, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const context = authorize(request, 'audit:read');
      const { format } = request.query;
      const filters = filtersOf(request.query);
      // Entries before the export's own record: a snapshot that later appends do not change.
      const belowSeq = await recordExport(db, context.tenantId, { actor: actorOf(context), at: deps.clock.now(), requestId: request.id, meta: requestMeta(request), format, filters });
      const day = deps.clock.now().toISOString().slice(0, 10);
      return reply
        .header('content-type', CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="audit-${context.tenantId}-${day}.${format}"`)
        .header('cache-control', 'no-store')
        .send(exportStream(exportEntries(db, context.tenantId, filters, belowSeq), format));
    },
  );

  app.get(
    '/v1/orgs/:org/audit/verify',
    {
      ...inOrg,
      schema: { tags, security, summary: 'Recompute the chain and check every link and hash', params: AuditParams, response: { 200: VerifyResult, ...errorResponses(401, 403, 404) } },
    },
    async (request) => {
      const { tenantId } = authorize(request, 'audit:read');
      try {
        return await verifications.run(tenantId, () => verifyChain(db, tenantId));
      } catch (error) {
        if (error instanceof TooManyRuns) throw httpErrors.rate_limited('Too many chains are being verified right now; retry after the time in Retry-After', { headers: { 'retry-after': '5' } });
        throw error;
      }
    },
  );

  app.get(
    '/v1/orgs/:org/audit/checkpoints',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: 'Signed tree heads of the chain, largest first; keep copies outside Rampart',
        params: AuditParams,
        querystring: CheckpointQuery,
        response: { 200: CheckpointPage, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { tenantId } = authorize(request, 'audit:read');
      const { limit, cursor } = request.query;
      const beforeSize = cursor === undefined ? undefined : decodeCursor(cursor);
      const page = await withTenant(db, tenantId, (trx) => listCheckpoints(trx, tenantId, { limit: limit + 1, ...(beforeSize === undefined ? {} : { beforeSize }) }));
      const data = page.slice(0, limit);
      return { data, next_cursor: page.length > limit ? encodeCursor(data[data.length - 1]!.size) : null };
    },
  );

  app.get(
    '/v1/orgs/:org/audit/proofs/inclusion',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: 'RFC 9162 inclusion proof of entry `seq` against the signed checkpoint of exactly `size` entries',
        params: AuditParams,
        querystring: InclusionQuery,
        response: { 200: InclusionProofDocument, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => inclusionProof(db, authorize(request, 'audit:read').tenantId, request.query.seq, request.query.size),
  );

  app.get(
    '/v1/orgs/:org/audit/proofs/consistency',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: 'RFC 9162 consistency proof between the signed checkpoints of `from` and `to` entries',
        params: AuditParams,
        querystring: ConsistencyQuery,
        response: { 200: ConsistencyProofDocument, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => consistencyProof(db, authorize(request, 'audit:read').tenantId, request.query.from, request.query.to),
  );

  app.get(
    '/v1/audit/keys',
    {
      schema: {
        tags,
        summary: 'Public keys that verify audit checkpoints, retired ones included (never unpublished); not for access tokens',
        response: { 200: AuditKeys },
      },
    },
    async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send({ keys: (await listAllPublicKeys(db, 'audit-checkpoint')) as Static<typeof AuditKeys>['keys'] }),
  );
}

function filtersOf(query: { action?: string; actor_id?: string; target_id?: string; since?: string; until?: string }): AuditFilters {
  return {
    ...(query.action === undefined ? {} : { action: query.action }),
    ...(query.actor_id === undefined ? {} : { actorId: query.actor_id }),
    ...(query.target_id === undefined ? {} : { targetId: query.target_id }),
    ...(query.since === undefined ? {} : { since: new Date(query.since) }),
    ...(query.until === undefined ? {} : { until: new Date(query.until) }),
  };
}

function actorOf(context: OrgContext) {
  return { type: context.actor.type, id: context.actor.id };
}
