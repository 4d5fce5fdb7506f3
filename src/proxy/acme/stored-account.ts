/** Validation of the ACME account read back from storage; anything unusable reads as absent. */
import { createPrivateKey } from 'node:crypto';
import type { StoredAccount } from './certificate-storage.js';

/** Builds a {@link StoredAccount} from parsed JSON for `directoryUrl`, or undefined when it is not usable. */
export function parseStoredAccount(value: unknown, directoryUrl: string): StoredAccount | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.directoryUrl !== directoryUrl || typeof record.key !== 'string' || record.key.length > 16_384) return undefined;
  if (record.url !== undefined && (typeof record.url !== 'string' || !/^https?:\/\/\S{1,2000}$/.test(record.url))) return undefined;
  try {
    createPrivateKey(record.key);
  } catch {
    return undefined;
  }
  return Object.freeze({ directoryUrl, key: record.key, url: record.url });
}
