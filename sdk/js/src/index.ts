/** @mpdp/host: the MPDP host integration kit for web hosts, web views and Node hosts. */

export { Analytics, EVENT_TYPES, INGEST_PATH, MAX_BATCH, Session } from "./analytics.js";
export type { AnalyticsOptions, EventFields, EventType, Stats } from "./analytics.js";
export { HostClient, LIST_PATH } from "./client.js";
export type { Deliverable, HostClientOptions } from "./client.js";
export {
  APIError,
  AuthenticationError,
  MPDPError,
  NetworkError,
  NotFoundError,
  PackageIntegrityError,
  RateLimitedError,
  ValidationError,
} from "./errors.js";
export type { Problem } from "./errors.js";
export { Backoff, retryAfterSeconds } from "./retry.js";
export type { BackoffOptions, Sleep } from "./retry.js";
export { KEY_HEADER, SIGNATURE_HEADER, Signer, TIMESTAMP_HEADER, sha256Hex, signature } from "./signing.js";
export { LocalStorage, MemoryStorage } from "./storage.js";
export type { Storage } from "./storage.js";
