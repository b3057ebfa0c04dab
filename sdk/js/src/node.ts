/** For Node hosts: packages and the offline queue kept in a folder. */

import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import type { Storage } from "./storage.js";

/** Each key a file in `folder` (its name made safe); written whole through a temporary file. */
export class FileStorage implements Storage {
  constructor(readonly folder: string) {}

  private path(key: string): string {
    return join(this.folder, key.replace(/[^A-Za-z0-9._-]/g, "_"));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    await mkdir(this.folder, { recursive: true });
    const temporary = `${this.path(key)}.${process.pid}.tmp`;
    await writeFile(temporary, value);
    await rename(temporary, this.path(key));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}

export * from "./index.js";
