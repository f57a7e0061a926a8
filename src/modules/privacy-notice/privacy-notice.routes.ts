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
          "Everything Arts. 13 and 14 require the data subject be told, as JSON a CRM or preference page can show: the controller and its contact details, the DPO, each purpose with its legal basis (and the legitimate interests pursued), data categories, recipients, transfers to third countries with their safeguards, retention, whether providing the data is required and the consequences of not doing so, the source of the data, automated decisions with the Art. 22(2) exception and the logic involved; the rights (access, rectification, erasure, restriction, portability, automated decisions, withdrawal of consent at any time, complaint to the supervisory authority named with its URL), and the right to object (Art. 21) in a section of its own. Each purpose falls back to the tenant's default locale when it has no text in the locale asked for, and `locale` on each purpose says which was used; the notice's own headings and rights texts exist in en, bg and de (`texts_locale` says which was used). The notice always renders: `missing` lists what the law requires and the tenant or register does not give yet (e.g. supervisory_authority, purposes.<key>.legitimate_interests).",
        querystring: PrivacyNoticeQuery,
        response: { 200: PrivacyNoticeSchema, ...problems() },
      },
    },
    async (request) => app.services.privacyNotice.render(principalOf(request).tenantId, request.query.locale),
  );
};
export default routes;
