// The one way the console talks to the platform: the public API through the gateway, same origin.
//
// The access token lives in this module's memory only. The refresh token is kept in sessionStorage,
// which only this origin and this tab can read, so that a reload does not sign the person out; it is
// sent in a request body to this origin alone, never in a URL or to another site.

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

const REFRESH_KEY = "mpdp.refresh_token";
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const signedOutListeners = new Set<() => void>();

function storedRefreshToken(): string | null {
  return sessionStorage.getItem(REFRESH_KEY);
}

function keep(tokens: TokenPair): void {
  accessToken = tokens.access_token;
  sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
}

function forget(): void {
  const wasSignedIn = accessToken !== null || storedRefreshToken() !== null;
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
  if (wasSignedIn) signedOutListeners.forEach((listener) => listener());
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

/** Trade the refresh token for a new pair, once at a time however many calls need it. */
function refresh(): Promise<boolean> {
  const token = storedRefreshToken();
  if (!token) return Promise.resolve(false);
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: token }),
  })
    .then(async (response) => {
      if (!response.ok) {
        forget();
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
  if (response.status === 401 && path !== "/api/v1/auth/token") forget();
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
      forget();
    }
  },
  /** New tokens for the same sign-in, e.g. once the email is verified (tokens say so). */
  async renew(): Promise<boolean> {
    return refresh();
  },
  onSignedOut(listener: () => void): () => void {
    signedOutListeners.add(listener);
    return () => signedOutListeners.delete(listener);
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
