/** Every error the kit throws: one base class, each kind its own type, each readable as it is. */

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: Record<string, string[]>;
  [field: string]: unknown;
}

/** Anything the kit could not do. */
export class MPDPError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The platform could not be reached, or the connection broke (after the retries allowed). */
export class NetworkError extends MPDPError {}

/** The platform answered with an error: its status and problem document (RFC 9457). */
export class APIError extends MPDPError {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly problem: Problem;
  readonly errors: Record<string, string[]>;

  constructor(status: number, problem: Problem = {}) {
    const title = problem.title ?? DEFAULT_TITLES[status] ?? "HTTP error";
    const detail = problem.detail ?? "";
    const errors = problem.errors ?? {};
    const fields = Object.entries(errors).map(([field, messages]) => `${field}: ${messages.join(" ")}`);
    super(`${status} ${title}${detail ? `: ${detail}` : ""}${fields.length ? ` (${fields.join("; ")})` : ""}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.problem = problem;
    this.errors = errors;
  }
}

/** 401: the key is unknown or revoked, the signature is wrong, or the clock is more than 5 minutes off. */
export class AuthenticationError extends APIError {}
/** 404: not delivered to this app (any more). */
export class NotFoundError extends APIError {}
/** 422: a field the platform refused; `errors` says which and why. */
export class ValidationError extends APIError {}

/** 429 after the retries allowed; `retryAfter` is the seconds the platform asked to wait. */
export class RateLimitedError extends APIError {
  readonly retryAfter: number;
  constructor(status: number, problem: Problem = {}, retryAfter = 1) {
    super(status, problem);
    this.retryAfter = retryAfter;
  }
}

/** A downloaded package whose sha256 is not the one delivery announced: discarded, never used. */
export class PackageIntegrityError extends MPDPError {
  constructor(
    readonly miniprogramId: string,
    readonly version: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`package ${miniprogramId}@${version}: sha256 ${actual} is not the announced ${expected}; it was discarded`);
  }
}

const DEFAULT_TITLES: Record<number, string> = {
  401: "Unauthorized",
  404: "Not Found",
  416: "Range Not Satisfiable",
  422: "Unprocessable Content",
  429: "Too Many Requests",
};

/** The typed error for an answer of `status` with `problem` as its body. */
export function errorFor(status: number, problem: Problem = {}, retryAfter?: number): APIError {
  if (status === 429) return new RateLimitedError(status, problem, retryAfter ?? 1);
  if (status === 401) return new AuthenticationError(status, problem);
  if (status === 404) return new NotFoundError(status, problem);
  if (status === 422) return new ValidationError(status, problem);
  return new APIError(status, problem);
}

export async function problemOf(answer: Response): Promise<Problem> {
  try {
    const body: unknown = await answer.json();
    return body && typeof body === "object" ? (body as Problem) : {};
  } catch {
    return {};
  }
}
