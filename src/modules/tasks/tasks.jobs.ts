// The worker's part of system tasks: topic task.send sends a task to its system, addressed to it alone; the data
// each system receives (how to find the person, the callback link) is built at send time, never stored.
import { z } from 'zod';
import type { createDispatcher } from '../outbox/outbox.dispatcher.js';
import { addressedEventRow, type EventBodies, type EventType } from '../outbox/outbox.events.js';
import type { TasksService } from './tasks.service.js';
import { TASK_EVENT, TASK_SEND_TOPIC } from './tasks.service.js';

type Dispatcher = ReturnType<typeof createDispatcher>;

/** Registers topic task.send and the send-time bodies of the events tasks are sent as. */
export function registerTasksJobs(dispatcher: Pick<Dispatcher, 'register'>, deps: { tasks: TasksService; bodies: EventBodies }): void {
  for (const [type, build] of taskEventBodies(deps.tasks)) deps.bodies.set(type, build);
  dispatcher.register(TASK_SEND_TOPIC, {
    payload: z.object({ task_id: z.uuid() }),
    handle: async (_row, payload) => {
      await deps.tasks.send(payload.task_id, (t, endpointId, type, data) => ({ ...addressedEventRow(t.tenantId, type as never, data as never, endpointId), refId: t.requestId }));
    },
  });
}

/** The send-time bodies of the events a task is sent as. */
export function taskEventBodies(tasks: TasksService): EventBodies {
  return new Map(Object.values(TASK_EVENT).map((type) => [type as EventType, (tenantId: string, data: Record<string, unknown>) => tasks.sendBody(tenantId, data)]));
}
