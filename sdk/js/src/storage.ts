/** Where the kit keeps what it was delivered (packages, the last list and its ETag) and the
 * analytics queue while offline: a key-value store of bytes, pluggable. */

export interface Storage {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

/** In memory: gone with the process or the page. */
export class MemoryStorage implements Storage {
  private readonly values = new Map<string, Uint8Array>();
  async get(key: string): Promise<Uint8Array | undefined> {
    return this.values.get(key);
  }
  async set(key: string, value: Uint8Array): Promise<void> {
    this.values.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
}

interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A browser's localStorage (or any Web Storage), each value base64 under `prefix`. Its few
 * megabytes suit the list and the analytics queue; keep large packages elsewhere. */
export class LocalStorage implements Storage {
  constructor(
    private readonly store: WebStorageLike = (globalThis as { localStorage?: WebStorageLike }).localStorage as WebStorageLike,
    private readonly prefix = "mpdp:",
  ) {
    if (!store) throw new Error("no localStorage here: use MemoryStorage, or FileStorage from @mpdp/host/node");
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    const text = this.store.getItem(this.prefix + key);
    if (text === null) return undefined;
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
    return bytes;
  }
  async set(key: string, value: Uint8Array): Promise<void> {
    let binary = "";
    for (let index = 0; index < value.length; index += 0x8000) binary += String.fromCharCode(...value.subarray(index, index + 0x8000));
    this.store.setItem(this.prefix + key, btoa(binary));
  }
  async delete(key: string): Promise<void> {
    this.store.removeItem(this.prefix + key);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function getJSON<T>(storage: Storage, key: string): Promise<T | undefined> {
  const bytes = await storage.get(key);
  if (!bytes) return undefined;
  try {
    return JSON.parse(decoder.decode(bytes)) as T;
  } catch {
    return undefined;
  }
}

export async function setJSON(storage: Storage, key: string, value: unknown): Promise<void> {
  await storage.set(key, encoder.encode(JSON.stringify(value)));
}
