/** The signature of delivery requests, with Web Crypto (browsers, web views and Node 20's globalThis.crypto):
 * hex(HMAC-SHA256(secret, "{timestamp}\n{method}\n{path}\n{query}")). */

export const KEY_HEADER = "X-MPDP-Key";
export const TIMESTAMP_HEADER = "X-MPDP-Timestamp";
export const SIGNATURE_HEADER = "X-MPDP-Signature";

const encoder = new TextEncoder();

function subtle(): SubtleCrypto {
  const found = globalThis.crypto?.subtle;
  if (!found) throw new Error("Web Crypto (crypto.subtle) is needed: a secure context in browsers, Node 20 or later");
  return found;
}

export function hex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const byte of view) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** A signer for one secret: the key is imported once, not extractable. */
export class Signer {
  private readonly key: Promise<CryptoKey>;

  constructor(secret: string) {
    this.key = subtle().importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  }

  async signature(timestamp: number, method: string, path: string, query: string): Promise<string> {
    const message = encoder.encode(`${timestamp}\n${method.toUpperCase()}\n${path}\n${query}`);
    return hex(await subtle().sign("HMAC", await this.key, message));
  }
}

export async function signature(secret: string, timestamp: number, method: string, path: string, query: string): Promise<string> {
  return new Signer(secret).signature(timestamp, method, path, query);
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  return hex(await subtle().digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}
