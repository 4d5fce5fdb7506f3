/**
 * Public face of the sysadmin side: the `ProxySysAdmin` client, its options and result types, the
 * offline helpers (`initAdmin`, `writeKeyPair`, `loadPublicKey`) and the CLI runner.
 */
export { ProxySysAdmin } from './proxy-sysadmin.js';
export type { AddPublicKeyOptions, ProxySysAdminEvents, SysAdminState } from './proxy-sysadmin.js';
export {
  DEFAULT_SYSADMIN_AUDIENCE,
  DEFAULT_SYSADMIN_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_SYSADMIN_IDLE_TIMEOUT_MS,
  DEFAULT_SYSADMIN_REQUEST_TIMEOUT_MS,
  DEFAULT_SYSADMIN_TOKEN_TTL_SECONDS,
  resolveSysAdminOptions,
} from './sysadmin-options.js';
export type { ProxySysAdminOptions, ResolvedSysAdminOptions } from './sysadmin-options.js';
export type { BackendInfo, DrainResult, FleetInfo, FleetNodeInfo, RemoveKeyResult, TrustedKeyInfo } from './admin-results.js';
export type { KeyImportInput, KeyImportResult } from './key-import.js';
export { loadPublicKey } from './public-key-source.js';
export type { PublicKeySource } from './public-key-source.js';
export { DEFAULT_ADMIN_ID, DEFAULT_INIT_CERTSTORE, DEFAULT_INIT_OUT, initAdmin } from '../shared/trust/init-admin.js';
export type { InitAdminOptions, InitAdminResult } from '../shared/trust/init-admin.js';
export { writeKeyPair } from '../shared/identity/write-key-pair.js';
export type { WrittenKeyPair } from '../shared/identity/write-key-pair.js';
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli, SYSADMIN_COMMANDS } from './run-cli.js';
export type { RunCliOptions } from './run-cli.js';
export type { CliCommand, CliIo } from './cli-command.js';
// The error classes, so that an admin tool importing only `inteli-proxy/sysadmin` can branch on `code`.
export { ProxyError, ControlError, isProxyError } from '../shared/errors.js';
export type { ErrorCode } from '../shared/errors.js';
