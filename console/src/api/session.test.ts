import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

/** Another tab of the same browser, as the console's tabs speak to each other. */
function otherTab() {
  const channel = new BroadcastChannel("mpdp.session");
  const heard: unknown[] = [];
  channel.onmessage = (event) => heard.push(event.data);
  return { channel, heard, say: (message: unknown) => channel.postMessage(message) };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const until = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true));

let opened: { leave(): void } | null = null;

/** The client as a tab that has just been opened loads it; the one opened before is closed. */
async function newTab() {
  opened?.leave();
  vi.resetModules();
  const { session } = await import("./client");
  opened = session;
  return session;
}

describe("one sign-in across the tabs of a browser", () => {
  let tab: ReturnType<typeof otherTab>;
  beforeEach(() => {
    sessionStorage.clear();
    tab = otherTab();
  });
  afterEach(() => {
    tab.channel.close();
    vi.unstubAllGlobals();
  });

  it("hands an open tab's sign-in to a new one, which then calls with its access token", async () => {
    const sent: (string | null)[] = [];
    vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
      sent.push(new Headers(init.headers).get("Authorization"));
      return json({ id: "ada" });
    });
    tab.channel.onmessage = (event) => {
      if (event.data.kind === "ask") tab.say({ kind: "tokens", access_token: "a1", refresh_token: "r1" });
    };
    const session = await newTab();
    await session.settled();
    expect(session.isSignedIn()).toBe(true);
    expect(sessionStorage.getItem("mpdp.refresh_token")).toBe("r1");
    const { api } = await import("./client");
    await api.get("/api/v1/me");
    expect(sent).toEqual(["Bearer a1"]);
  });

  it("settles signed out when no tab has a sign-in to hand over", async () => {
    const session = await newTab();
    await session.settled();
    expect(session.isSignedIn()).toBe(false);
  });

  it("takes the pair another tab traded its token for, rather than sending the used token again", async () => {
    sessionStorage.setItem("mpdp.refresh_token", "r1");
    const asked: string[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      asked.push(`${url} ${init.body ?? new Headers(init.headers).get("Authorization")}`);
      return json({ id: "ada" });
    });
    await newTab();
    const { api } = await import("./client");
    const answer = api.get("/api/v1/me"); // needs a token: trades r1, unless told of r2 first
    tab.say({ kind: "tokens", access_token: "a2", refresh_token: "r2" });
    await answer;
    expect(asked).toEqual(["/api/v1/me Bearer a2"]);
    expect(sessionStorage.getItem("mpdp.refresh_token")).toBe("r2");
  });

  it("tells the other tabs the pair it traded its token for", async () => {
    sessionStorage.setItem("mpdp.refresh_token", "r1");
    const asked: string[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      asked.push(`${url} ${init.body ?? new Headers(init.headers).get("Authorization")}`);
      if (url === "/api/v1/auth/refresh") {
        // meanwhile another tab traded r1 and told its pair
        tab.say({ kind: "tokens", access_token: "a3", refresh_token: "r3" });
        return json({ access_token: "a2", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
      }
      return json({ id: "ada" });
    });
    const session = await newTab();
    const { api } = await import("./client");
    await api.get("/api/v1/me");
    expect(asked).toEqual(['/api/v1/auth/refresh {"refresh_token":"r1"}', "/api/v1/me Bearer a2"]);
    await until(() => tab.heard.some((message) => JSON.stringify(message) === JSON.stringify({ kind: "tokens", access_token: "a2", refresh_token: "r2" })));

    // another tab's pair arrives before this one needs a new token: the old one is never sent again
    await until(() => sessionStorage.getItem("mpdp.refresh_token") === "r3");
    expect(session.isSignedIn()).toBe(true);
  });

  it("signs out with the others, and says why", async () => {
    sessionStorage.setItem("mpdp.refresh_token", "r1");
    const session = await newTab();
    tab.say({ kind: "signed-out", reason: "signed-out-elsewhere" });
    await until(() => !session.isSignedIn());
    expect(session.lastSignedOut()).toBe("signed-out-elsewhere");
  });

  it("says a sign-in ended when its refresh token is refused, and tells the other tabs", async () => {
    sessionStorage.setItem("mpdp.refresh_token", "r1");
    vi.stubGlobal("fetch", async () => json({ title: "Unauthorized", status: 401 }, 401));
    const session = await newTab();
    const { api } = await import("./client");
    await expect(api.get("/api/v1/me")).rejects.toThrow();
    expect(session.lastSignedOut()).toBe("ended");
    await until(() => tab.heard.some((message) => JSON.stringify(message) === JSON.stringify({ kind: "signed-out", reason: "ended" })));
  });
});
