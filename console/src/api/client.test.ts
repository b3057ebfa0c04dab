import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, session } from "./client";

type Call = { url: string; init: RequestInit };

function answer(status: number, body?: unknown, type = "application/json"): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

describe("the API client", () => {
  let calls: Call[];
  let replies: Response[];

  beforeEach(() => {
    calls = [];
    replies = [];
    sessionStorage.clear();
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return replies.shift() ?? answer(500, { title: "no reply left", status: 500 });
    });
  });

  afterEach(async () => {
    replies.push(answer(204));
    await session.signOut();
    vi.unstubAllGlobals();
  });

  it("keeps the access token in memory and only the refresh token in this tab's storage", async () => {
    replies.push(answer(200, { access_token: "access-1", refresh_token: "refresh-1", token_type: "Bearer", expires_in: 900 }));
    await session.signIn("a@example.com", "password123");
    expect(Object.keys(localStorage)).toEqual([]);
    expect(Object.entries(sessionStorage)).toEqual([["mpdp.refresh_token", "refresh-1"]]);
    replies.push(answer(200, { id: "me" }));
    await api.get("/api/v1/me");
    expect((calls[1].init.headers as Record<string, string>).Authorization).toBe("Bearer access-1");
  });

  it("refreshes once on a 401 and repeats the call with the new token", async () => {
    replies.push(answer(200, { access_token: "old", refresh_token: "refresh-1", token_type: "Bearer", expires_in: 900 }));
    await session.signIn("a@example.com", "password123");
    replies.push(
      answer(401, { title: "expired", status: 401 }),
      answer(200, { access_token: "new", refresh_token: "refresh-2", token_type: "Bearer", expires_in: 900 }),
      answer(200, { items: [], next_cursor: null }),
    );
    await expect(api.get("/api/v1/workspaces")).resolves.toEqual({ items: [], next_cursor: null });
    expect(calls[2].url).toBe("/api/v1/auth/refresh");
    expect(JSON.parse(String(calls[2].init.body))).toEqual({ refresh_token: "refresh-1" });
    expect((calls[3].init.headers as Record<string, string>).Authorization).toBe("Bearer new");
    expect(sessionStorage.getItem("mpdp.refresh_token")).toBe("refresh-2");
  });

  it("signs out when the refresh token is refused", async () => {
    replies.push(answer(200, { access_token: "old", refresh_token: "spent", token_type: "Bearer", expires_in: 900 }));
    await session.signIn("a@example.com", "password123");
    const signedOut = vi.fn();
    const stop = session.onSignedOut(signedOut);
    replies.push(answer(401, { title: "expired", status: 401 }), answer(401, { title: "revoked", status: 401 }));
    await expect(api.get("/api/v1/me")).rejects.toBeInstanceOf(ApiError);
    expect(signedOut).toHaveBeenCalled();
    expect(session.isSignedIn()).toBe(false);
    stop();
  });

  it("turns a problem document into an error with its fields", async () => {
    replies.push(answer(422, { title: "Validation failed", status: 422, detail: "Some fields are not valid.", errors: { name: ["Too long."], service_email: { smtp_port: ["Not a port."] } } }, "application/problem+json"));
    const error = (await api.post("/api/v1/workspaces", { name: "x" }).catch((failure: unknown) => failure)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.message).toBe("Some fields are not valid.");
    expect(error.fieldErrors()).toEqual([
      { name: ["name"], errors: ["Too long."] },
      { name: ["service_email", "smtp_port"], errors: ["Not a port."] },
    ]);
  });

  it("leaves empty query values out of the URL", async () => {
    replies.push(answer(200, { items: [] }));
    await api.get("/api/v1/x", { a: "1", b: undefined, c: "", d: 0 });
    expect(calls[0].url).toBe("/api/v1/x?a=1&d=0");
  });
});
