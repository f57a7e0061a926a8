// The master keys this process can unwrap with; new keys are always wrapped by the current one.
import type { Config } from '../config.js';
import type { MasterKey } from './crypto.js';

export type Keyring = { current: MasterKey; all: Map<string, Buffer> };

export function createKeyring(config: Pick<Config, 'masterKey'>): Keyring {
  return { current: config.masterKey, all: new Map([[config.masterKey.id, config.masterKey.key]]) };
}
