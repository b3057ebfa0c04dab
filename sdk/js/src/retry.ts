/** Exponential backoff with jitter, and the wait that `Retry-After` asks for. */

export interface BackoffOptions {
  /** tries in all, the first included (default 5) */
  attempts?: number;
  /** the first wait, in seconds (default 0.5); each next one doubles */
  base?: number;
  /** the longest wait, in seconds (default 30) */
  cap?: number;
}

export class Backoff {
  readonly attempts: number;
  readonly base: number;
  readonly cap: number;

  constructor({ attempts = 5, base = 0.5, cap = 30 }: BackoffOptions = {}) {
    this.attempts = attempts;
    this.base = base;
    this.cap = cap;
  }

  /** Seconds to wait before try `attempt + 1` (attempt counts from 0). */
  delay(attempt: number, retryAfter?: number): number {
    if (retryAfter !== undefined) return Math.max(0, retryAfter);
    const wait = Math.min(this.cap, this.base * 2 ** attempt);
    return wait * (0.75 + Math.random() / 4);
  }
}

/** `Retry-After` as seconds (a number of seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const moment = Date.parse(text);
  return Number.isNaN(moment) ? undefined : Math.max(0, (moment - Date.now()) / 1000);
}

/** The statuses worth another try: the rate limit and the platform's passing troubles. */
export const RETRIED_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

export type Sleep = (seconds: number) => Promise<void>;
export const sleep: Sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));
