// The one way the console talks to the platform: the public API through the gateway, same origin.
//
// The access token lives in this module's memory only. The refresh token is kept in sessionStorage,
// which only this origin and this tab can read and which ends with the browser, so that a reload
// does not sign the person out; it is sent in a request body to this origin alone, never in a URL
// or to another site.
//
// The tabs of one browser share one sign-in without a store that outlives them: a new tab asks the
// open ones on a BroadcastChannel (same origin only) and takes the tokens one of them hands over;
// every new pair, and every sign-out, is told to the others. Refresh tokens are used once, so one
// tab at a time trades it, under a Web Lock, and a tab that finds it traded meanwhile takes the
// new pair instead of sending the old token again (which would end the sign-in everywhere).

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldMessages;
}

type FieldMessages = { [field: string]: string[] | FieldMessages };

/** The server's messages for one field of the body that was sent; a nested field by its path. */
export interface FieldError {
  name: string[];
  errors: string[];
}

function flatten(messages: FieldMessages, prefix: string[] = []): FieldError[] {
  return Object.entries(messages).flatMap(([field, value]) => (Array.isArray(value) ? [{ name: [...prefix, field], errors: value.map(String) }] : flatten(value, [...prefix, field])));
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.status = problem.status;
    this.problem = problem;
  }

  /** The server's messages for the fields of the body that was sent, nested ones too. */
  fieldErrors(): FieldError[] {
    return flatten(this.problem.errors ?? {});
  }
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

/** Why a person is no longer signed in, for the sign-in page to say. */
export type SignedOutReason = "signed-out" | "signed-out-elsewhere" | "ended";

type SessionMessage =
  | { kind: "ask" }
  | { kind: "tokens"; access_token: string | null; refresh_token: string }
  | { kind: "signed-out"; reason: SignedOutReason };

const REFRESH_KEY = "mpdp.refresh_token";
const REFRESH_LOCK = "mpdp.refresh";
/** How long a new tab waits for an open one to hand over its sign-in. */
const ASK_MS = 300;
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
let lastSignedOut: SignedOutReason | null = null;
const signedInListeners = new Set<() => void>();
const signedOutListeners = new Set<(reason: SignedOutReason) => void>();
const channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("mpdp.session");

function storedRefreshToken(): string | null {
  return sessionStorage.getItem(REFRESH_KEY);
}

function tell(message: SessionMessage): void {
  channel?.postMessage(message);
}

function keep(tokens: { access_token: string | null; refresh_token: string }, fromAnotherTab = false): void {
  const wasSignedIn = session.isSignedIn();
  accessToken = tokens.access_token;
  sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  lastSignedOut = null;
  if (!fromAnotherTab) tell({ kind: "tokens", access_token: tokens.access_token, refresh_token: tokens.refresh_token });
  if (!wasSignedIn) signedInListeners.forEach((listener) => listener());
}

function forget(reason: SignedOutReason, fromAnotherTab = false): void {
  const wasSignedIn = session.isSignedIn();
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
  if (!wasSignedIn) return;
  lastSignedOut = reason;
  if (!fromAnotherTab) tell({ kind: "signed-out", reason: reason === "signed-out" ? "signed-out-elsewhere" : reason });
  signedOutListeners.forEach((listener) => listener(reason));
}

if (channel) {
  channel.onmessage = (event: MessageEvent<SessionMessage>) => {
    const message = event.data;
    const refreshToken = storedRefreshToken();
    if (message.kind === "ask" && refreshToken) tell({ kind: "tokens", access_token: accessToken, refresh_token: refreshToken });
    else if (message.kind === "tokens") keep(message, true);
    else if (message.kind === "signed-out") forget(message.reason, true);
  };
}

/** Resolves once this tab has a sign-in, or once no open tab has handed one over in time. */
const settled: Promise<void> =
  channel && !storedRefreshToken()
    ? new Promise((resolve) => {
        const done = () => {
          signedInListeners.delete(done);
          resolve();
        };
        signedInListeners.add(done);
        setTimeout(done, ASK_MS);
        tell({ kind: "ask" });
      })
    : Promise.resolve();

/** `work` while no other tab of this browser does it (Web Locks), or at once where there are none. */
function exclusively<T>(work: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  return locks ? (locks.request(REFRESH_LOCK, work) as Promise<T>) : work();
}

async function problemOf(response: Response): Promise<Problem> {
  try {
    const body = await response.json();
    if (body && typeof body === "object" && "title" in body) return { ...body, status: response.status };
  } catch {
    // not a problem document: fall through to a plain one
  }
  const messages: Record<number, string> = {
    413: "That is over the size limit.",
    429: "Too many requests; wait a moment and try again.",
    502: "The platform did not answer properly; try again shortly.",
    503: "The platform is unavailable right now; try again shortly.",
    504: "The platform took too long to answer; try again.",
  };
  return { title: messages[response.status] ?? response.statusText ?? "Request failed", status: response.status };
}

/** Trade the refresh token for a new pair, once at a time however many calls, and tabs, need it. */
function refresh(): Promise<boolean> {
  const token = storedRefreshToken();
  if (!token) return Promise.resolve(false);
  refreshing ??= exclusively(async () => {
    // The tab that held the lock told its new pair before letting go: take it in first.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const current = storedRefreshToken();
    if (current !== token) return current !== null && accessToken !== null;
    const response = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    });
    if (!response.ok) {
      if (response.status === 401 || response.status === 400) forget("ended");
      return false;
    }
    keep(await response.json());
    return true;
  })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

interface Options {
  query?: Query;
  json?: unknown;
  signal?: AbortSignal;
}

async function send(method: string, path: string, options: Options, retried = false): Promise<Response> {
  if (!accessToken && storedRefreshToken()) await refresh();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(withQuery(path, options.query), {
    method,
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
    signal: options.signal,
    credentials: "same-origin",
  });
  if (response.status === 401 && accessToken && !retried) {
    accessToken = null;
    if (await refresh()) return send(method, path, options, true);
  }
  if (response.status === 401 && path !== "/api/v1/auth/token") forget("ended");
  return response;
}

export async function request<T>(method: string, path: string, options: Options = {}): Promise<T> {
  const response = await send(method, path, options);
  if (!response.ok) throw new ApiError(await problemOf(response));
  if (response.status === 204 || response.headers.get("Content-Length") === "0") return undefined as T;
  return (await response.json()) as T;
}

/** A multipart upload that reports its progress (0..100); fetch cannot tell upload progress. */
export async function upload<T>(path: string, form: FormData, onProgress: (percent: number) => void): Promise<T> {
  if (!accessToken && storedRefreshToken()) await refresh();
  const attempt = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      if (accessToken) xhr.setRequestHeader("Authorization", `Bearer ${accessToken}`);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(Math.round((event.loaded / event.total) * 100));
      };
      xhr.onload = () => resolve({ status: xhr.status, body: xhr.responseText });
      xhr.onerror = () => reject(new ApiError({ title: "The upload was interrupted; check the connection and try again.", status: 0 }));
      xhr.send(form);
    });
  let answer = await attempt();
  if (answer.status === 401 && (await refresh())) answer = await attempt();
  const body = answer.body ? JSON.parse(answer.body) : undefined;
  if (answer.status >= 400) {
    throw new ApiError(body && body.title ? { ...body, status: answer.status } : { title: `Upload failed (${answer.status})`, status: answer.status });
  }
  return body as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>("GET", path, { query }),
  post: <T>(path: string, json?: unknown) => request<T>("POST", path, { json: json ?? {} }),
  put: <T>(path: string, json: unknown) => request<T>("PUT", path, { json }),
  patch: <T>(path: string, json: unknown) => request<T>("PATCH", path, { json }),
  delete: (path: string, json?: unknown) => request<void>("DELETE", path, { json }),
};

export const session = {
  isSignedIn: () => accessToken !== null || storedRefreshToken() !== null,
  /** Resolves once a new tab has taken an open tab's sign-in, or found none to take. */
  settled: () => settled,
  /** Why the person was last signed out in this tab, until they sign in again. */
  lastSignedOut: () => lastSignedOut,
  /** The first step; for an account with two-factor sign-in on, the token its second step needs. */
  async signIn(email: string, password: string): Promise<{ mfaToken: string } | null> {
    const answer = await request<TokenPair | { mfa_required: true; mfa_token: string }>("POST", "/api/v1/auth/token", { json: { email, password } });
    if ("mfa_required" in answer && answer.mfa_required) return { mfaToken: answer.mfa_token };
    keep(answer as TokenPair);
    return null;
  },
  /** The second step: a code from the authenticator app, or a recovery code. */
  async signInWithCode(mfaToken: string, code: { code: string } | { recovery_code: string }): Promise<void> {
    keep(await request<TokenPair>("POST", "/api/v1/auth/token/mfa", { json: { mfa_token: mfaToken, ...code } }));
  },
  async signOut(): Promise<void> {
    const token = storedRefreshToken();
    try {
      if (token) await fetch("/api/v1/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: token }) });
    } finally {
      forget("signed-out");
    }
  },
  /** New tokens for the same sign-in, e.g. once the email is verified (tokens say so). */
  async renew(): Promise<boolean> {
    return refresh();
  },
  onSignedOut(listener: (reason: SignedOutReason) => void): () => void {
    signedOutListeners.add(listener);
    return () => signedOutListeners.delete(listener);
  },
  /** Stop hearing from the other tabs (as a closed tab does). */
  leave(): void {
    channel?.close();
  },
  /** Told when another tab hands its sign-in over, or this one signs in. */
  onSignedIn(listener: () => void): () => void {
    signedInListeners.add(listener);
    return () => signedInListeners.delete(listener);
  },
  /** Downloads need the token in a header, so they go through a blob rather than a plain link. */
  async download(path: string, filename: string): Promise<void> {
    const response = await send("GET", path, {});
    if (!response.ok) throw new ApiError(await problemOf(response));
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = filename;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  },
};
