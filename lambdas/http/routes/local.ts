/** Helpers that exist only in local mode (npm start): never deployed to AWS. */
import { z } from 'zod';
import { NotFoundError } from '../errors.js';

import { defineRoute } from '../route.js';

const outboxEntry = z.object({
  gid: z.string(),
  to: z.array(z.string()),
  subject: z.string(),
  text: z.string(),
  links: z.array(z.string()),
  sent_at: z.string(),
});

export const outboxRoute = defineRoute({
  method: 'GET',
  path: '/outbox',
  scope: 'local',
  operationId: 'listLocalOutbox',
  summary: 'Mail sent by the local server, newest first',
  tags: ['Local'],
  auth: 'none',
  request: {},
  responses: { 200: { description: 'Sent mail', schema: z.object({ data: z.array(outboxEntry) }) } },
  async handle({ deps }) {
    if (!deps.local) throw new NotFoundError();
    return { kind: 'data', data: await deps.local.listOutbox() };
  },
});
