export type { Storage } from './storage.js';
export { MemoryStorage, type MemoryStorageOptions, type CrashOptions } from './memory.js';
export { InsecureDirectoryError, StorageClosedError, StorageFailedError, StorageLockedError } from './errors.js';
export * from './file/index.js';
