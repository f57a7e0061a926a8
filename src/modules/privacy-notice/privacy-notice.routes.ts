import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/auth.js';
import { problems } from '../../lib/schemas.js';
import { PrivacyNoticeQuery, PrivacyNoticeSchema } from './privacy-notice.schemas.js';

const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/v1/privacy-notice',
    {
      config: { scopes: ['purposes:read'] },
      schema: {
        operationId: 'getPrivacyNotice',
        tags: ['purposes'],
        summary: 'Render the privacy notice',
        description:
          "The register of purposes rendered for a locale as JSON a CRM or preference page can show: the right to information (Arts. 13/14). Each purpose falls back to the tenant's default locale when it has no text in the locale asked for; `locale` on each purpose says which was used.",
        querystring: PrivacyNoticeQuery,
        response: { 200: PrivacyNoticeSchema, ...problems() },
      },
    },
    async (request) => app.services.privacyNotice.render(principalOf(request).tenantId, request.query.locale),
  );
};
export default routes;
