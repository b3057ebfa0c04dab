/** The host app's client: signed delivery (the mini program list with If-None-Match, packages with
 * Range resume and sha256 verification, kept in a pluggable storage), analytics and the crash-report DSN. */

import { Analytics, type AnalyticsOptions } from "./analytics.js";
import { MPDPError, NetworkError, PackageIntegrityError, errorFor, problemOf } from "./errors.js";
import { Backoff, RETRIED_STATUSES, type Sleep, retryAfterSeconds, sleep as realSleep } from "./retry.js";
import { KEY_HEADER, SIGNATURE_HEADER, Signer, TIMESTAMP_HEADER, sha256Hex } from "./signing.js";
import { MemoryStorage, type Storage, getJSON, setJSON } from "./storage.js";

export const LIST_PATH = "/client/v1/miniprograms";

/** One mini program this user runs, as delivery announced it. */
export interface Deliverable {
  miniprogram_id: string;
  name: string;
  version: string;
  version_id: string;
  channel: "released" | "grayscale" | "pilot";
  package_url: string;
  sha256: string;
  size: number;
}

export interface HostClientOptions {
  /** the platform's gateway, e.g. https://mpdp.example.com */
  baseUrl: string;
  /** the app key's id (mak_...) */
  keyId: string;
  /** the app key's secret: needed to sign delivery (keep it on hosts you control); analytics and the DSN need only the key id */
  secret?: string;
  /** this host app's version (semver), sent to delivery so that what needs a newer host is not offered */
  hostVersion?: string;
  /** where packages and the last list are kept (default: in memory) */
  storage?: Storage;
  fetch?: typeof fetch;
  backoff?: Backoff;
  sleep?: Sleep;
  /** each request's time limit (default 30 s) */
  timeoutMs?: number;
}

export class HostClient {
  readonly baseUrl: string;
  readonly keyId: string;
  readonly hostVersion?: string;
  readonly storage: Storage;
  readonly backoff: Backoff;
  private readonly prefix: string;
  private readonly signer?: Signer;
  private readonly fetch: typeof fetch;
  private readonly sleep: Sleep;
  private readonly timeoutMs: number;

  constructor(options: HostClientOptions) {
    if (!/^https?:\/\//.test(options.baseUrl)) throw new MPDPError(`baseUrl must be an http(s) URL, not ${JSON.stringify(options.baseUrl)}`);
    if (!options.keyId) throw new MPDPError("an app key's keyId is needed (the console shows it with the key)");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.prefix = new URL(this.baseUrl).pathname.replace(/\/+$/, "");
    this.keyId = options.keyId;
    this.hostVersion = options.hostVersion;
    this.signer = options.secret ? new Signer(options.secret) : undefined;
    this.storage = options.storage ?? new MemoryStorage();
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.backoff = options.backoff ?? new Backoff();
    this.sleep = options.sleep ?? realSleep;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Never shows the secret. */
  toJSON(): object {
    return { baseUrl: this.baseUrl, keyId: this.keyId, secret: this.signer ? "<hidden>" : undefined };
  }

  /** The signing headers for one request of `path` (as on the platform) with `query` as sent. */
  async signedHeaders(method: string, path: string, query = ""): Promise<Record<string, string>> {
    if (!this.signer) throw new MPDPError("signing delivery requests needs the app key's secret");
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = await this.signer.signature(timestamp, method, this.prefix + path, query);
    return { [KEY_HEADER]: this.keyId, [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signature };
  }

  /** A signed GET, signed afresh and tried again on network trouble, 429 and 5xx (honouring Retry-After). */
  private async get(path: string, params: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> {
    const query = new URLSearchParams(params).toString();
    const url = this.baseUrl + path + (query ? `?${query}` : "");
    for (let attempt = 0; ; attempt++) {
      const last = attempt + 1 >= this.backoff.attempts;
      let answer: Response;
      try {
        answer = await this.fetch(url, {
          headers: { ...(await this.signedHeaders("GET", path, query)), ...headers },
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        if (error instanceof MPDPError) throw error;
        if (last) throw new NetworkError(`GET ${path}: the platform at ${this.baseUrl} could not be reached (${(error as Error).name})`);
        await this.sleep(this.backoff.delay(attempt));
        continue;
      }
      if (answer.status < 400) return answer;
      const retryAfter = retryAfterSeconds(answer.headers.get("Retry-After"));
      if (RETRIED_STATUSES.has(answer.status) && !last) {
        await answer.body?.cancel();
        await this.sleep(this.backoff.delay(attempt, retryAfter));
        continue;
      }
      throw errorFor(answer.status, await problemOf(answer), retryAfter);
    }
  }

  /** What `userId` runs, for a host of `hostVersion` (else the client's): the list answered
   * before when the platform says 304 Not Modified to its ETag. */
  async miniprograms(userId: string, { hostVersion }: { hostVersion?: string } = {}): Promise<Deliverable[]> {
    const version = hostVersion ?? this.hostVersion;
    const params: Record<string, string> = { user_id: userId, ...(version ? { host_version: version } : {}) };
    const key = `list:${await sha256Hex(new TextEncoder().encode(`${this.keyId}\n${userId}\n${version ?? ""}`))}`;
    const known = await getJSON<{ etag: string; items: Deliverable[] }>(this.storage, key);
    const answer = await this.get(LIST_PATH, params, known ? { "If-None-Match": known.etag } : {});
    if (answer.status === 304 && known) return known.items;
    let items: Deliverable[];
    try {
      items = ((await answer.json()) as { items: Deliverable[] }).items;
      if (!Array.isArray(items)) throw new TypeError("no items");
    } catch (error) {
      throw new MPDPError(`the mini program list could not be read (${(error as Error).name})`);
    }
    const etag = answer.headers.get("ETag");
    if (etag) await setJSON(this.storage, key, { etag, items });
    return items;
  }

  private packageKey(item: Deliverable): string {
    return `package:${item.miniprogram_id}:${item.version}:${item.sha256}`;
  }

  /** `item`'s package if it is in the storage and its sha256 is still the announced one. */
  async cached(item: Deliverable): Promise<Uint8Array | undefined> {
    const bytes = await this.storage.get(this.packageKey(item));
    if (!bytes) return undefined;
    if ((await sha256Hex(bytes)) === item.sha256.toLowerCase()) return bytes;
    await this.storage.delete(this.packageKey(item));
    return undefined;
  }

  /** `item`'s package: from the storage, or downloaded (resumed with Range where an earlier try
   * broke off), verified against its sha256 and kept. A package whose sha256 does not match is
   * discarded and PackageIntegrityError thrown: it is never used. */
  async download(item: Deliverable): Promise<Uint8Array> {
    const found = await this.cached(item);
    if (found) return found;
    const partKey = `part:${item.miniprogram_id}:${item.version}:${item.sha256}`;
    let part = (await this.storage.get(partKey)) ?? new Uint8Array(0);
    for (let attempt = 0; ; attempt++) {
      if (item.size && part.length > item.size) part = new Uint8Array(0);
      if (item.size && part.length === item.size) break;
      try {
        part = await this.fetchFrom(item, part);
        break;
      } catch (error) {
        if (!(error instanceof NetworkError && "part" in error)) throw error;
        part = (error as NetworkError & { part: Uint8Array }).part;
        await this.storage.set(partKey, part);
        if (attempt + 1 >= this.backoff.attempts) throw error;
        await this.sleep(this.backoff.delay(attempt));
      }
    }
    await this.storage.delete(partKey);
    const actual = await sha256Hex(part);
    if (actual !== item.sha256.toLowerCase()) throw new PackageIntegrityError(item.miniprogram_id, item.version, item.sha256, actual);
    await this.storage.set(this.packageKey(item), part);
    return part;
  }

  private async fetchFrom(item: Deliverable, part: Uint8Array): Promise<Uint8Array> {
    let answer: Response;
    let offset = part.length;
    try {
      answer = await this.get(item.package_url, {}, offset ? { Range: `bytes=${offset}-` } : {});
    } catch (error) {
      if (!(error instanceof MPDPError && "status" in error && error.status === 416)) throw error;
      answer = await this.get(item.package_url); // the part is no prefix of this package: start again
      offset = 0;
    }
    if (offset && answer.status === 206) {
      const start = (answer.headers.get("Content-Range") ?? "").replace(/^bytes /, "").split("-")[0];
      if (start !== String(offset)) throw new MPDPError(`package ${item.miniprogram_id}@${item.version}: a range from ${start} answered for ${offset}`);
    } else {
      offset = 0; // a full answer: the range was not taken
    }
    const chunks: Uint8Array[] = offset ? [part.subarray(0, offset)] : [];
    const reader = answer.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
    } catch (error) {
      const broken = new NetworkError(`package ${item.miniprogram_id}@${item.version}: the download broke off (${(error as Error).name})`);
      throw Object.assign(broken, { part: concat(chunks) });
    }
    return concat(chunks);
  }

  /** The DSN for `@sentry/browser` (or any Sentry SDK) reporting a mini program's crashes through
   * this app's key: `telemetryId` is the mini program's numeric id, shown by the console with its DSN. */
  sentryDsn(telemetryId: number | string): string {
    if (!/^\d+$/.test(String(telemetryId))) throw new MPDPError(`telemetryId is the mini program's numeric id, not ${JSON.stringify(telemetryId)}`);
    const url = new URL(this.baseUrl);
    return `${url.protocol}//${this.keyId}@${url.host}${this.prefix}/ingest/sentry/${telemetryId}`;
  }

  /** An analytics queue sending with this client's key (ingest needs no signature). */
  analytics(options: Omit<AnalyticsOptions, "baseUrl" | "keyId"> = {}): Analytics {
    return new Analytics({ fetch: this.fetch, sleep: this.sleep, ...options, baseUrl: this.baseUrl, keyId: this.keyId });
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
