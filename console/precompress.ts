import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { Plugin } from "vite";

// Text compresses; images and fonts are compressed already.
const COMPRESSIBLE = /\.(html|js|mjs|css|svg|json|map|txt|xml)$/;

/** Writes `<file>.br` and `<file>.gz` beside each compressible file of the build, once, at their
 * strongest levels, for the gateway to answer browsers that accept them. A file that either copy
 * would not make smaller (a few bytes of text) gets neither: it is always sent as it is, so its
 * answer never varies with the browser's Accept-Encoding. */
export function precompress(): Plugin {
  let outDir = "";
  return {
    name: "mpdp-precompress",
    apply: "build",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const files = readdirSync(outDir, { recursive: true, encoding: "utf8" }).filter((name) => COMPRESSIBLE.test(name));
      for (const name of files) {
        const path = join(outDir, name);
        const original = readFileSync(path);
        const copies = {
          br: brotliCompressSync(original, { params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY } }),
          gz: gzipSync(original, { level: 9 }),
        };
        if (Object.values(copies).some((compressed) => compressed.length >= original.length)) continue;
        for (const [suffix, compressed] of Object.entries(copies)) writeFileSync(`${path}.${suffix}`, compressed);
      }
    },
  };
}
