import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { errorResponses, httpErrors, requestMeta } from '../platform/http/index.js';
import { authorize } from '../tenancy/index.js';
import type { Files } from './files.service.js';
import { AccessReasonHeaders, FileParams, FileView } from './vault.schemas.js';

export interface FileRouteDependencies {
  files: Files;
  requireUserOrKey: (request: FastifyRequest) => Promise<void>;
}

// A media type and nothing more: it is sent back as Content-Type, so no header injection.
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/i;
const SUBJECT_HEADER = 'x-rampart-subject-id';

const UploadHeaders = Type.Object({
  // Printable ASCII only: Node reads header bytes as Latin-1, so a UTF-8 id would be indexed under
  // other characters than the same id in a JSON body, and erasing the subject would miss the file.
  [SUBJECT_HEADER]: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      pattern: '^[\\x20-\\x7e]+$',
      description: "The data subject the file is about (the host application's id, printable ASCII); kept only as a blind index",
    }),
  ),
});

/**
 * Vault files (API.md "Vault"): the body is any media type, handed to the service as a stream
 * (this plugin's own content-type parser; Fastify's body limit does not apply, the vault's file
 * limit does) and never buffered whole.
 */
export async function fileRoutes(fastify: FastifyInstance, deps: FileRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const tags = ['vault'];
  const security = [{ bearer: [] }];
  const preHandler = deps.requireUserOrKey;
  const { files } = deps;
  const path = '/v1/orgs/:org/files/:key';

  app.put(
    path,
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: `Upload or replace a file, streamed and encrypted in chunks; its Content-Type is kept. Optional ${SUBJECT_HEADER} names its data subject (records:write)`,
        params: FileParams,
        headers: UploadHeaders,
        response: { 200: FileView, 201: FileView, ...errorResponses(400, 401, 403, 404, 413, 415) },
      },
    },
    async (request, reply) => {
      const context = authorize(request, 'records:write');
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (!MEDIA_TYPE.test(contentType)) throw httpErrors.unsupported_media_type('Send the file with its media type as Content-Type, e.g. application/pdf');
      const declared = request.headers['content-length'];
      const upload = {
        body: request.body as Readable,
        contentType: contentType.toLowerCase(),
        declaredBytes: declared === undefined ? null : Number(declared),
        subjectId: request.headers[SUBJECT_HEADER] ?? null,
      };
      const { file, created } = await files.put(context, request.params.key, upload, requestMeta(request));
      return reply.status(created ? 201 : 200).send(file);
    },
  );

  app.get(
    path,
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'Download a file, decrypted after the whole file authenticated; downloads of files with a data subject are audited (records:read)',
        params: FileParams,
        headers: AccessReasonHeaders,
        // A stream is sent as it is; the schema only documents the body for OpenAPI.
        response: { 200: Type.Unsafe<Readable>({ type: 'string', format: 'binary', description: 'The file as uploaded' }), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { file, body } = await files.get(authorize(request, 'records:read'), request.params.key, requestMeta(request), request.headers['x-rampart-access-reason'] ?? null);
      // An attachment, never rendered on the API's origin whatever type the uploader claimed.
      return reply
        .header('content-type', file.content_type)
        .header('content-length', String(file.size))
        .header('content-disposition', 'attachment')
        .header('cache-control', 'no-store')
        .send(body);
    },
  );

  app.delete(
    path,
    {
      preHandler,
      schema: { tags, security, summary: 'Delete a file (records:write)', params: FileParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await files.remove(authorize(request, 'records:write'), request.params.key, requestMeta(request));
      return reply.status(204).send(null);
    },
  );
}
