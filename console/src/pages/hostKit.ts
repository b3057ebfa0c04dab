/** The host integration kit's snippet for a host app, the same as the READMEs of sdk/js and
 * sdk/python, with this platform's address and the app's key filled in. */

export interface SnippetFor {
  /** the platform's gateway as the host app reaches it */
  baseUrl: string;
  /** the app key's id, or a placeholder while the app has none */
  keyId: string;
}

export function typescriptSnippet({ baseUrl, keyId }: SnippetFor): string {
  return `import * as Sentry from "@sentry/browser";
import { HostClient, LocalStorage, PackageIntegrityError } from "@mpdp/host";

const client = new HostClient({
  baseUrl: "${baseUrl}", // the platform's gateway
  keyId: "${keyId}",                    // the host app's key (console: Apps, Keys)
  secret: SECRET,                      // signs delivery; keep it off public web pages
  hostVersion: "8.2.0",                // what needs a newer host is not offered
  storage: new LocalStorage(),         // or MemoryStorage, or FileStorage from "@mpdp/host/node"
});
for (const item of await client.miniprograms("ada")) {  // 304 to its ETag: the list kept before
  try {
    const bytes = await client.download(item);           // resumed with Range, sha256 verified, kept
    console.log(item.name, item.version, bytes.length);
  } catch (error) {
    if (!(error instanceof PackageIntegrityError)) throw error; // discarded: never run it
  }
}
const analytics = await client.analytics({ storage: new LocalStorage() }).start(); // offline queue
const session = analytics.session("mp_123", "1.0.0", "ada");
session.appLaunch(850);
session.pageView("pages/home/home", 3200);
session.track("add_to_cart", { sku: "A1" });
Sentry.init({ dsn: client.sentryDsn(1001), release: "shop@1.0.0" });
addEventListener("pagehide", () => { session.end(); void analytics.flush(); });
`;
}

export function pythonSnippet({ baseUrl, keyId }: SnippetFor): string {
  return `import sentry_sdk
from mpdp_host import HostClient, PackageIntegrityError

client = HostClient(
    "${baseUrl}",  # the platform's gateway
    key_id="${keyId}",  # the host app's key (console: Apps, Keys)
    secret=SECRET,  # shown once when the key is made; never logged
    host_version="8.2.0",  # what needs a newer host is not offered
    cache_dir="/var/cache/my-host/mpdp",
)
for item in client.miniprograms(user_id="ada"):  # 304 to its ETag: the list kept before
    try:
        package = client.download(item)  # resumed with Range, sha256 verified
    except PackageIntegrityError:
        continue  # discarded: never run a package that does not match
    print(item.name, item.version, package)

analytics = client.analytics(batch_size=500).start()  # batches, backoff, Retry-After
session = analytics.session("mp_123", "1.0.0", user_id="ada")
session.app_launch(duration_ms=850)
session.page_view("pages/home/home", duration_ms=3200)
session.track("add_to_cart", {"sku": "A1"})
session.end()
analytics.close()  # sends what is left

sentry_sdk.init(dsn=client.sentry_dsn(telemetry_id=1001), release="shop@1.0.0")
`;
}

/** One signed delivery request from a shell, to see the signing at work without a kit. */
export function curlSnippet({ baseUrl, keyId }: SnippetFor): string {
  return `KEY_ID="${keyId}"; SECRET="..."   # the host app's key and its secret
TS=$(date +%s); PATH_="/client/v1/miniprograms"; QUERY="user_id=u-42"
SIG=$(printf '%s\\nGET\\n%s\\n%s' "$TS" "$PATH_" "$QUERY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
curl -s "${baseUrl}$PATH_?$QUERY" -H "X-MPDP-Key: $KEY_ID" -H "X-MPDP-Timestamp: $TS" -H "X-MPDP-Signature: $SIG"
`;
}
