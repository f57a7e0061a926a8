import createError from '@fastify/error';

export const SystemNotFound = createError<'SYSTEM_NOT_FOUND', 404, []>('SYSTEM_NOT_FOUND', 'No such system in this tenant', 404);
export const UnknownWebhookEndpoint = createError<'UNKNOWN_WEBHOOK_ENDPOINT', 422, []>(
  'UNKNOWN_WEBHOOK_ENDPOINT',
  'webhook_endpoint_id names no webhook endpoint of this tenant (or a deleted one): register the endpoint first, or reach the system by contact_email',
  422,
);
export const ProcessorIsRecipient = createError<'PROCESSOR_IS_RECIPIENT', 422, []>(
  'PROCESSOR_IS_RECIPIENT',
  'A processor is a recipient (Art. 4(9)) and is told of rectification, erasure and restriction (Art. 19): recipient cannot be false while processor is true',
  422,
);
export const SystemHasOpenTasks = createError<'SYSTEM_HAS_OPEN_TASKS', 409, [number]>(
  'SYSTEM_HAS_OPEN_TASKS',
  'The system has %d open task(s) (pending, acknowledged or failed): see them through, or exempt them, before deleting it',
  409,
);
