import { z } from 'zod';
import { PORTAL_TOKEN_HOURS } from '../tenants/tenants.schemas.js';

export const CreatePortalLinkBody = z
  .object({
    ttl_hours: z
      .number()
      .int()
      .min(PORTAL_TOKEN_HOURS.min)
      .max(PORTAL_TOKEN_HOURS.max)
      .optional()
      .describe(`Hours the link lives, ${PORTAL_TOKEN_HOURS.min}-${PORTAL_TOKEN_HOURS.max}; default the tenant's portal_token_hours (${PORTAL_TOKEN_HOURS.default})`),
  })
  .strict()
  .meta({ id: 'CreatePortalLink', description: 'A portal link for the person; every field is optional' });

export const PortalLinkSchema = z
  .object({
    url: z.string().describe('PORTAL_BASE_URL + /preferences?token=<token>: hand it to the person (it is their key until it expires)'),
    token: z.string().describe('The subject token alone, for a portal of your own: send it as Authorization: Bearer <token> to /v1/me'),
    expires_at: z.iso.datetime(),
  })
  .meta({ id: 'PortalLink', description: "A link to the person's self-service; not stored anywhere" });
