import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';

const ONE_YEAR_MS = 365 * 86_400_000;

/** Builds the RFC 9116 file. Without a configured expiry it expires a year after start-up. */
export function renderSecurityTxt(config: Config, startedAt: Date): string {
  const { contact, policy, preferredLanguages, expires } = config.securityTxt;
  const lines = [
    ...contact.map((value) => `Contact: ${value}`),
    `Expires: ${(expires ?? new Date(startedAt.getTime() + ONE_YEAR_MS)).toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    ...(policy ? [`Policy: ${policy}`] : []),
    `Preferred-Languages: ${preferredLanguages}`,
    `Canonical: ${config.publicUrl}/.well-known/security.txt`,
  ];
  return `${lines.join('\n')}\n`;
}

export async function securityTxtRoutes(app: FastifyInstance, deps: { config: Config; startedAt: Date }): Promise<void> {
  const body = renderSecurityTxt(deps.config, deps.startedAt);
  app.get(
    '/.well-known/security.txt',
    {
      schema: {
        tags: ['service'],
        summary: 'RFC 9116 vulnerability-disclosure contact file',
        produces: ['text/plain'],
        response: { 200: Type.String() },
      },
    },
    async (_request, reply) => reply.type('text/plain; charset=utf-8').header('cache-control', 'public, max-age=3600').send(body),
  );
}
