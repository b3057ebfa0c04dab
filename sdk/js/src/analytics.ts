/** The analytics queue: events sent in batches to `/ingest/v1/events` with the app key, tried again
 * with exponential backoff and the wait `Retry-After` asks for, kept in a storage while offline.
 *
 * Each event gets its `event_id` when it is recorded, so a batch sent again after a lost answer
 * counts once. A batch the platform could not take (offline, 5xx, 429 past the tries allowed) goes
 * back to the front of the queue; one it refused as a whole (400, 413, 422) is dropped and counted.
 * When the queue is full, the oldest events make room and are counted. */

import { AuthenticationError, MPDPError, NetworkError, RateLimitedError, errorFor, problemOf } from "./errors.js";
import { Backoff, RETRIED_STATUSES, type Sleep, retryAfterSeconds, sleep as realSleep } from "./retry.js";
import { type Storage, getJSON, setJSON } from "./storage.js";

export const INGEST_PATH = "/ingest/v1/events";
export const EVENT_TYPES = ["app_launch", "page_view", "session_end", "js_error", "custom"] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** the platform's limit of events in one batch */
export const MAX_BATCH = 1000;

export interface EventFields {
  miniprogram_id: string;
  version: string;
  user_id: string;
  session_id: string;
  /** unix milliseconds (default: now) */
  timestamp?: number;
  page?: string;
  duration_ms?: number;
  name?: string;
  properties?: Record<string, unknown>;
}

/** One queued event: as sent, but with its number instead of its id and its time in milliseconds. */
interface Queued extends EventFields {
  n: number;
  /** the id an earlier run gave it (events taken back from the storage) */
  id?: string;
  type: EventType;
  timestamp: number;
}

export interface AnalyticsOptions {
  baseUrl: string;
  keyId: string;
  /** events in one request, 1 to 1000 (default 500) */
  batchSize?: number;
  /** events kept at most; the oldest make room (default 100,000) */
  maxQueue?: number;
  /** how often the started queue sends (default 5000 ms) */
  flushIntervalMs?: number;
  /** gzip each batch where CompressionStream exists (default true) */
  compress?: boolean;
  /** keeps the queue across restarts and while offline (e.g. LocalStorage, FileStorage) */
  storage?: Storage;
  storageKey?: string;
  fetch?: typeof fetch;
  backoff?: Backoff;
  sleep?: Sleep;
}

export interface Stats {
  sent: number;
  rejected: number;
  dropped: number;
  batches: number;
  retries: number;
  rejections: { index: number; reason: string }[];
}

export class Analytics {
  readonly url: string;
  readonly keyId: string;
  readonly batchSize: number;
  readonly maxQueue: number;
  readonly stats: Stats = { sent: 0, rejected: 0, dropped: 0, batches: 0, retries: 0, rejections: [] };
  private queue: Queued[] = [];
  private head = 0;
  private number = 0;
  private readonly prefix: string;
  private readonly options: AnalyticsOptions;
  private readonly fetch: typeof fetch;
  private readonly backoff: Backoff;
  private readonly sleep: Sleep;
  private sending: Promise<number> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onOnline = (): void => void this.flush().catch(() => undefined);
  private readonly onHide = (): void => void this.persist();

  constructor(options: AnalyticsOptions) {
    const batchSize = options.batchSize ?? 500;
    if (!(batchSize >= 1 && batchSize <= MAX_BATCH)) throw new MPDPError(`batchSize is 1 to ${MAX_BATCH} events, not ${batchSize}`);
    this.options = options;
    this.url = options.baseUrl.replace(/\/+$/, "") + INGEST_PATH;
    this.keyId = options.keyId;
    this.batchSize = batchSize;
    this.maxQueue = options.maxQueue ?? 100_000;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.backoff = options.backoff ?? new Backoff();
    this.sleep = options.sleep ?? realSleep;
    const random = new Uint8Array(8);
    globalThis.crypto.getRandomValues(random);
    this.prefix = Array.from(random, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  /** Events waiting to be sent. */
  get length(): number {
    return this.queue.length - this.head;
  }

  /** Queue one event; answers its event_id. */
  record(type: EventType, fields: EventFields): string {
    if (!EVENT_TYPES.includes(type)) throw new MPDPError(`event type ${JSON.stringify(type)} is none of ${EVENT_TYPES.join(", ")}`);
    if (type === "custom" && !fields.name) throw new MPDPError("a custom event needs its name");
    const n = ++this.number;
    this.queue.push({ ...fields, n, type, timestamp: fields.timestamp ?? Date.now() });
    if (this.length > this.maxQueue) {
      this.head++;
      this.stats.dropped++;
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) this.compact();
    if (this.timer !== undefined && this.length >= this.batchSize) void this.flush().catch(() => undefined);
    this.schedulePersist();
    return `${this.prefix}-${n}`;
  }

  /** A user's session of one mini program version: its events carry all four. */
  session(miniprogramId: string, version: string, userId: string, sessionId?: string): Session {
    return new Session(this, { miniprogram_id: miniprogramId, version, user_id: userId, session_id: sessionId ?? randomId() });
  }

  /** The queued events as the platform receives them. */
  pending(): Record<string, unknown>[] {
    return this.queue.slice(this.head).map((event) => this.body(event));
  }

  private body({ n, id, timestamp, ...fields }: Queued): Record<string, unknown> {
    return { event_id: id ?? `${this.prefix}-${n}`, timestamp: new Date(timestamp).toISOString(), ...fields };
  }

  private compact(): void {
    this.queue = this.queue.slice(this.head);
    this.head = 0;
  }

  /** Send everything queued, batch by batch; answers the events the platform accepted. Rejects with
   * NetworkError or RateLimitedError (the batch stays queued) when the platform cannot take it
   * within the tries allowed, AuthenticationError when the key is refused. */
  flush(): Promise<number> {
    if (!this.sending) {
      this.sending = this.flushAll().finally(() => {
        this.sending = undefined;
      });
    }
    return this.sending;
  }

  private async flushAll(): Promise<number> {
    let accepted = 0;
    while (this.length > 0) {
      if ((globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false) {
        await this.persist();
        throw new NetworkError(`offline: ${this.length} events stay queued`);
      }
      const batch = this.queue.slice(this.head, this.head + this.batchSize);
      this.head += batch.length;
      try {
        accepted += await this.send(batch);
      } catch (error) {
        this.compact();
        this.queue.unshift(...batch);
        while (this.length > this.maxQueue) {
          this.queue.pop();
          this.stats.dropped++;
        }
        await this.persist();
        throw error;
      }
    }
    this.compact();
    await this.persist();
    return accepted;
  }

  private async send(batch: Queued[]): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const last = attempt + 1 >= this.backoff.attempts;
      const text = JSON.stringify({ sent_at: new Date().toISOString(), events: batch.map((event) => this.body(event)) });
      const headers: Record<string, string> = { "X-MPDP-Key": this.keyId, "Content-Type": "application/json" };
      let body: BodyInit = text;
      if (this.options.compress !== false && typeof CompressionStream !== "undefined") {
        body = await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
        headers["Content-Encoding"] = "gzip";
      }
      let answer: Response;
      try {
        answer = await this.fetch(this.url, { method: "POST", body, headers, keepalive: text.length < 60_000 });
      } catch (error) {
        if (last) throw new NetworkError(`POST ${INGEST_PATH}: ${(error as Error).name}: ${batch.length} events stay queued`);
        this.stats.retries++;
        await this.sleep(this.backoff.delay(attempt));
        continue;
      }
      if (answer.status === 202) {
        const result = (await answer.json()) as { accepted: number; rejected?: { index: number; reason: string }[] };
        const rejected = result.rejected ?? [];
        this.stats.sent += batch.length - rejected.length;
        this.stats.rejected += rejected.length;
        this.stats.batches++;
        if (rejected.length) this.stats.rejections = [...this.stats.rejections, ...rejected].slice(-100);
        return result.accepted ?? batch.length - rejected.length;
      }
      const retryAfter = retryAfterSeconds(answer.headers.get("Retry-After"));
      const problem = await problemOf(answer);
      if (RETRIED_STATUSES.has(answer.status) && !last) {
        this.stats.retries++;
        await this.sleep(this.backoff.delay(attempt, retryAfter));
        continue;
      }
      const error = errorFor(answer.status, problem, retryAfter);
      if (RETRIED_STATUSES.has(answer.status)) {
        throw error instanceof RateLimitedError ? error : new NetworkError(`${error.message}: ${batch.length} events stay queued`);
      }
      if (error instanceof AuthenticationError) throw error;
      this.stats.dropped += batch.length; // refused as a whole: sending it again cannot help
      return 0;
    }
  }

  // -- keeping the queue while offline ---------------------------------------------------------

  private get storageKey(): string {
    return this.options.storageKey ?? `analytics:${this.keyId}`;
  }

  /** Write the queue to the storage (when one was given). */
  async persist(): Promise<void> {
    if (this.persistTimer !== undefined) clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    if (!this.options.storage) return;
    const events = this.queue.slice(this.head).map((event) => ({ ...event, id: event.id ?? `${this.prefix}-${event.n}` }));
    await setJSON(this.options.storage, this.storageKey, { events });
  }

  private schedulePersist(): void {
    if (!this.options.storage || this.persistTimer !== undefined) return;
    this.persistTimer = setTimeout(() => void this.persist().catch(() => undefined), 1000);
    (this.persistTimer as { unref?: () => void }).unref?.();
  }

  /** Take back the events a previous run left in the storage (they keep their event ids). */
  async restore(): Promise<number> {
    if (!this.options.storage) return 0;
    const saved = await getJSON<{ events: Queued[] }>(this.options.storage, this.storageKey);
    if (!saved?.events?.length) return 0;
    this.compact();
    const known = new Set(this.queue.map((event) => event.id));
    const earlier = saved.events.filter((event) => event.id && !known.has(event.id));
    this.queue.unshift(...earlier);
    return earlier.length;
  }

  /** Send every `flushIntervalMs`, whenever a batch is full and when the browser comes back online;
   * the queue is written to the storage when the page is hidden. */
  async start(): Promise<this> {
    await this.restore();
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.flush().catch(() => undefined), this.options.flushIntervalMs ?? 5000);
      (this.timer as { unref?: () => void }).unref?.();
      const target = globalThis as { addEventListener?: (name: string, listener: () => void) => void };
      target.addEventListener?.("online", this.onOnline);
      target.addEventListener?.("pagehide", this.onHide);
    }
    return this;
  }

  /** Stop sending on a timer and send what is left. */
  async close(): Promise<number> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const target = globalThis as { removeEventListener?: (name: string, listener: () => void) => void };
    target.removeEventListener?.("online", this.onOnline);
    target.removeEventListener?.("pagehide", this.onHide);
    return this.flush();
  }
}

/** One user's session of one mini program version, recording its events. */
export class Session {
  private readonly started = Date.now();
  constructor(
    readonly analytics: Analytics,
    readonly who: Pick<EventFields, "miniprogram_id" | "version" | "user_id" | "session_id">,
  ) {}

  get sessionId(): string {
    return this.who.session_id;
  }
  appLaunch(durationMs?: number): string {
    return this.analytics.record("app_launch", { ...this.who, ...(durationMs !== undefined && { duration_ms: durationMs }) });
  }
  pageView(page: string, durationMs?: number): string {
    return this.analytics.record("page_view", { ...this.who, page, ...(durationMs !== undefined && { duration_ms: durationMs }) });
  }
  track(name: string, properties?: Record<string, unknown>): string {
    return this.analytics.record("custom", { ...this.who, name, ...(properties && { properties }) });
  }
  jsError(message?: string, page?: string): string {
    return this.analytics.record("js_error", { ...this.who, ...(page && { page }), ...(message && { properties: { message } }) });
  }
  /** session_end, with the session's duration (measured since it began unless given). */
  end(durationMs?: number): string {
    return this.analytics.record("session_end", { ...this.who, duration_ms: durationMs ?? Date.now() - this.started });
  }
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
