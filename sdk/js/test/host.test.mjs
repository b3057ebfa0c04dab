// The JS host kit against a fake platform in this process: it checks each signature as the gateway
// does, answers 304 to a known ETag, serves ranges and can break a download off, answers 429 with
// Retry-After and keeps what ingest received. Run on the ESM build, and the CJS build is loaded too.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, beforeEach, test } from "node:test";

import {
  AuthenticationError,
  Backoff,
  HostClient,
  MemoryStorage,
  NetworkError,
  PackageIntegrityError,
  RateLimitedError,
  ValidationError,
  retryAfterSeconds,
  signature,
} from "../dist/esm/index.js";
import { FileStorage } from "../dist/esm/node.js";

const KEY_ID = "mak_" + "a".repeat(24);
const SECRET = "s3cr3t-" + "x".repeat(30);
const PACKAGE = Buffer.alloc(100_000, 0).map((_, index) => index % 251);
let fake;
let base;
let server;

function reset() {
  fake = { sha: createHash("sha256").update(PACKAGE).digest("hex"), breakAfter: undefined, limited: 0, failing: 0, events: [], requests: [] };
}

function problem(response, status, title, extra = {}, headers = {}) {
  response.writeHead(status, { "Content-Type": "application/problem+json", ...headers });
  response.end(JSON.stringify({ type: "about:blank", title, status, ...extra }));
}

before(async () => {
  reset();
  server = createServer(async (request, response) => {
    const url = new URL(request.url, "http://fake");
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    fake.requests.push({ method: request.method, url: request.url, headers: request.headers });
    if (request.method === "POST") {
      if (request.headers["x-mpdp-key"] !== KEY_ID) return problem(response, 401, "Unauthorized");
      if (fake.limited-- > 0) return problem(response, 429, "Too Many Requests", {}, { "Retry-After": "2" });
      if (fake.failing-- > 0) return problem(response, 503, "Service Unavailable");
      let body = Buffer.concat(chunks);
      if (request.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const batch = JSON.parse(body.toString());
      const known = new Set(fake.events.map((event) => event.event_id));
      fake.events.push(...batch.events.filter((event) => !known.has(event.event_id)));
      response.writeHead(202, { "Content-Type": "application/json" });
      return response.end(JSON.stringify({ accepted: batch.events.length, rejected: [] }));
    }
    const timestamp = request.headers["x-mpdp-timestamp"];
    const expected = createHmac("sha256", SECRET).update(`${timestamp}\nGET\n${url.pathname}\n${url.search.slice(1)}`).digest("hex");
    if (request.headers["x-mpdp-key"] !== KEY_ID || request.headers["x-mpdp-signature"] !== expected) return problem(response, 401, "Unauthorized");
    if (url.pathname === "/client/v1/miniprograms") {
      if (url.searchParams.get("host_version") === "nope") return problem(response, 422, "Unprocessable Content", { errors: { host_version: ["a semantic version"] } });
      const item = {
        miniprogram_id: "mp1",
        name: "Shop",
        version: url.searchParams.get("host_version") === "1.0.0" ? "0.9.0" : "1.0.0",
        version_id: "v1",
        channel: "released",
        package_url: "/client/v1/miniprograms/mp1/versions/v1/package",
        sha256: fake.sha,
        size: PACKAGE.length,
      };
      const body = JSON.stringify({ items: [item] });
      const etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`;
      if (request.headers["if-none-match"] === etag) {
        response.writeHead(304, { ETag: etag });
        return response.end();
      }
      response.writeHead(200, { ETag: etag, "Content-Type": "application/json" });
      return response.end(body);
    }
    if (url.pathname.endsWith("/package")) {
      const start = request.headers.range ? Number(request.headers.range.replace("bytes=", "").replace("-", "")) : 0;
      if (start >= PACKAGE.length) return problem(response, 416, "Range Not Satisfiable");
      const body = PACKAGE.subarray(start);
      const headers = { "Content-Length": String(body.length) };
      if (start) headers["Content-Range"] = `bytes ${start}-${PACKAGE.length - 1}/${PACKAGE.length}`;
      response.writeHead(start ? 206 : 200, headers);
      if (fake.breakAfter !== undefined) {
        const cut = fake.breakAfter;
        fake.breakAfter = undefined;
        response.write(body.subarray(0, cut), () => setTimeout(() => response.destroy(), 20));
        return;
      }
      return response.end(body);
    }
    problem(response, 404, "Not Found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());
beforeEach(reset);

const sleeps = [];
const fakeSleep = async (seconds) => void sleeps.push(seconds);
const client = (options = {}) =>
  new HostClient({ baseUrl: base, keyId: KEY_ID, secret: SECRET, backoff: new Backoff({ attempts: 4, base: 0.01 }), sleep: fakeSleep, ...options });

test("the signature is the contract's", async () => {
  const expected = createHmac("sha256", "secret").update("1700000000\nGET\n/client/v1/miniprograms\nuser_id=ada").digest("hex");
  assert.equal(await signature("secret", 1700000000, "get", "/client/v1/miniprograms", "user_id=ada"), expected);
});

test("the list is signed, cached with its ETag and names the host version", async () => {
  const storage = new MemoryStorage();
  const host = client({ hostVersion: "8.2.0", storage });
  const [item] = await host.miniprograms("ada");
  assert.equal(item.version, "1.0.0");
  assert.equal(fake.requests.at(-1).url, "/client/v1/miniprograms?user_id=ada&host_version=8.2.0");
  assert.deepEqual(await client({ hostVersion: "8.2.0", storage }).miniprograms("ada"), [item]);
  assert.ok(fake.requests.at(-1).headers["if-none-match"]);
  assert.equal((await host.miniprograms("ada", { hostVersion: "1.0.0" }))[0].version, "0.9.0");
  await assert.rejects(host.miniprograms("ada", { hostVersion: "nope" }), (error) => {
    assert.ok(error instanceof ValidationError);
    assert.deepEqual(error.errors, { host_version: ["a semantic version"] });
    assert.match(error.message, /422 Unprocessable Content.*host_version/);
    return true;
  });
});

test("a wrong secret is a typed error that never shows the secret", async () => {
  const host = client({ secret: "not-the-secret" });
  await assert.rejects(host.miniprograms("ada"), (error) => error instanceof AuthenticationError && error.status === 401 && !error.message.includes("not-the-secret"));
  assert.ok(!JSON.stringify(host).includes("not-the-secret"));
});

test("a download resumes where it broke off, is verified and kept (filesystem storage)", async () => {
  const storage = new FileStorage(await mkdtemp(join(tmpdir(), "mpdp-host-")));
  const host = client({ storage });
  const [item] = await host.miniprograms("ada");
  fake.breakAfter = 40_000;
  const bytes = await host.download(item);
  assert.deepEqual(Buffer.from(bytes), PACKAGE);
  const ranges = fake.requests.filter((request) => request.url.endsWith("/package")).map((request) => request.headers.range);
  assert.equal(ranges[0], undefined);
  assert.match(ranges[1], /^bytes=\d+-$/);
  assert.ok(Number(ranges[1].slice(6, -1)) > 0);
  const count = fake.requests.length;
  assert.deepEqual(Buffer.from(await host.download(item)), PACKAGE);
  assert.equal(fake.requests.length, count); // from the storage
});

test("a package whose sha256 does not match is never used", async () => {
  const storage = new MemoryStorage();
  fake.sha = createHash("sha256").update("another package").digest("hex");
  const host = client({ storage });
  const [item] = await host.miniprograms("ada");
  await assert.rejects(host.download(item), (error) => error instanceof PackageIntegrityError && error.expected === fake.sha);
  assert.equal(await host.cached(item), undefined);
  // One that changed in the storage is not used either.
  await storage.set(`package:mp1:1.0.0:${fake.sha}`, new Uint8Array([1, 2, 3]));
  assert.equal(await host.cached(item), undefined);
});

test("the DSN is Sentry's", () => {
  const host = new HostClient({ baseUrl: "https://mpdp.example.com/", keyId: KEY_ID });
  assert.equal(host.sentryDsn(42), `https://${KEY_ID}@mpdp.example.com/ingest/sentry/42`);
});

test("analytics batches, honours Retry-After and backs off", async () => {
  sleeps.length = 0;
  const analytics = client().analytics({ batchSize: 3, backoff: new Backoff({ attempts: 5, base: 0.5 }) });
  const session = analytics.session("mp1", "1.0.0", "ada");
  session.appLaunch(800);
  session.pageView("home", 1200);
  session.track("add_to_cart", { sku: "A1" });
  session.jsError("TypeError: x is undefined", "home");
  session.end(60_000);
  assert.equal(analytics.length, 5);
  fake.limited = 1;
  fake.failing = 2;
  assert.equal(await analytics.flush(), 5);
  assert.equal(sleeps[0], 2);
  assert.ok(sleeps[1] >= 0.75 && sleeps[1] <= 1 && sleeps[2] >= 1.5 && sleeps[2] <= 2, String(sleeps)); // doubling, with jitter
  assert.deepEqual(fake.events.map((event) => event.type), ["app_launch", "page_view", "custom", "js_error", "session_end"]);
  assert.equal(fake.events[2].name, "add_to_cart");
  assert.equal(new Set(fake.events.map((event) => event.session_id)).size, 1);
  assert.equal(fake.requests.at(-1).headers["content-encoding"], "gzip");
  assert.equal(analytics.stats.sent, 5);
  assert.equal(analytics.length, 0);
});

test("events stay queued offline and survive a restart through the storage", async () => {
  const storage = new MemoryStorage();
  const analytics = client().analytics({ storage, backoff: new Backoff({ attempts: 2 }) });
  const session = analytics.session("mp1", "1.0.0", "ada");
  const ids = [0, 1, 2, 3].map((n) => session.pageView(`p${n}`));
  fake.limited = 2;
  await assert.rejects(analytics.flush(), (error) => error instanceof RateLimitedError && error.retryAfter === 2);
  assert.equal(analytics.length, 4);
  // The host restarts: the queue comes back from the storage with its event ids.
  const again = client().analytics({ storage });
  assert.equal(await again.restore(), 4);
  assert.equal(await again.flush(), 4);
  assert.deepEqual(fake.events.map((event) => event.event_id), ids);

  const unreachable = new HostClient({ baseUrl: "http://127.0.0.1:9", keyId: KEY_ID, sleep: fakeSleep }).analytics({ backoff: new Backoff({ attempts: 2 }) });
  unreachable.session("mp1", "1.0.0", "ada").pageView("home");
  await assert.rejects(unreachable.flush(), NetworkError);
  assert.equal(unreachable.length, 1);
});

test("a full queue drops its oldest events", () => {
  const analytics = new HostClient({ baseUrl: base, keyId: KEY_ID }).analytics({ maxQueue: 3 });
  const session = analytics.session("mp1", "1.0.0", "ada");
  for (let n = 0; n < 5; n++) session.pageView(`p${n}`);
  assert.deepEqual(analytics.pending().map((event) => event.page), ["p2", "p3", "p4"]);
  assert.equal(analytics.stats.dropped, 2);
});

test("retry-after takes seconds and dates", () => {
  assert.equal(retryAfterSeconds("3"), 3);
  assert.equal(retryAfterSeconds(null), undefined);
  assert.equal(retryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
});

test("the CommonJS build is the same kit", () => {
  const require = createRequire(import.meta.url);
  const kit = require("../dist/cjs/index.js");
  assert.equal(typeof kit.HostClient, "function");
  assert.equal(typeof require("../dist/cjs/node.js").FileStorage, "function");
  assert.equal(new kit.HostClient({ baseUrl: "http://x.test", keyId: KEY_ID }).sentryDsn(7), `http://${KEY_ID}@x.test/ingest/sentry/7`);
});
