// Task callback tokens: `<task id>.<HMAC>` keyed by a key derived from the master key and bound to the task's send
// count, so a token is stable across webhook retries of one send (a receiver that deduplicates keeps a valid one),
// changes when the task is sent again, and is never stored.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../../lib/keyring.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function createCallbackTokens(keyring: Keyring) {
  const key = Buffer.from(hkdfSync('sha256', keyring.current.key, Buffer.alloc(0), 'rightful task callbacks v1', 32));
  const mac = (taskId: string, sends: number) => createHmac('sha256', key).update(`${taskId}:${sends}`).digest('base64url');
  return {
    issue(taskId: string, sends: number): string {
      return `${taskId}.${mac(taskId, sends)}`;
    },
    /** The task id a token names, if it has the shape of one; the token is proven by `verify`. */
    taskIdOf(token: string): string | null {
      const [id, sig] = token.split('.');
      return id && sig && UUID.test(id) && /^[A-Za-z0-9_-]{43}$/.test(sig) ? id : null;
    },
    verify(token: string, taskId: string, sends: number): boolean {
      const expected = Buffer.from(this.issue(taskId, sends));
      const given = Buffer.from(token);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
export type CallbackTokens = ReturnType<typeof createCallbackTokens>;
