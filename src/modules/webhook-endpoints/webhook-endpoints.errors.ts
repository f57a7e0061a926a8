import createError from '@fastify/error';

export const EndpointNotFound = createError<'WEBHOOK_ENDPOINT_NOT_FOUND', 404, []>('WEBHOOK_ENDPOINT_NOT_FOUND', 'No such webhook endpoint in this tenant', 404);
export const DeliveryNotFound = createError<'WEBHOOK_DELIVERY_NOT_FOUND', 404, []>('WEBHOOK_DELIVERY_NOT_FOUND', 'No such delivery for this endpoint', 404);
export const EndpointDisabled = createError<'WEBHOOK_ENDPOINT_DISABLED', 409, []>(
  'WEBHOOK_ENDPOINT_DISABLED',
  'The endpoint is disabled; re-enable it with PATCH {"enabled": true} first',
  409,
);
