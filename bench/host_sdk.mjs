// The TypeScript host kit's analytics queue, measured by bench/host_sdk.py: the heap that
// `queued` events take in its queue, then the events per second one process sends through the
// gateway (`sent` events in batches of `batch`). Prints one line of JSON.
//
//     node --expose-gc bench/host_sdk.mjs <kit ESM url> <gateway> <key id> <mini program> <queued> <sent> <batch>
const [kitUrl, baseUrl, keyId, miniprogramId, queued, sent, batch] = process.argv.slice(2);
const { Analytics } = await import(kitUrl);

function heap() {
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

function fill(analytics, count) {
  const sessions = Array.from({ length: 1000 }, (_, n) => analytics.session(miniprogramId, "1.0.0", `user${n}`));
  for (let n = 0; n < count; n++) sessions[n % 1000].pageView(`pages/p${n % 20}/p${n % 20}`, 1000 + (n % 500));
}

const idle = new Analytics({ baseUrl, keyId });
const before = heap();
fill(idle, Number(queued));
const queuedBytes = heap() - before;
if (idle.length !== Number(queued)) throw new Error(`${idle.length} queued`);

const analytics = new Analytics({ baseUrl, keyId, batchSize: Number(batch), maxQueue: Number(sent) });
fill(analytics, Number(sent));
const started = performance.now();
const accepted = await analytics.flush();
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ queued: idle.length, queued_mib: queuedBytes / 2 ** 20, accepted, seconds, batches: analytics.stats.batches }));
