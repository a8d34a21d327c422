// The cold-start subject on the JavaScript side: process start -> signed-in session with
// Dynamic's JavaScript SDK (@dynamic-labs-sdk/client, pinned in package-lock.json), the same job
// as crates/bench/src/bin/cold_start.rs does with the native library.
//
// Reads BYOA_BENCH_FIXTURE (JSON written by `byoa-bench`: apiBaseUrl, environmentId,
// externalJwt, externalUserId), signs in once against the emulator, prints one JSON line and
// exits. Node lacks three things the SDK expects from a browser; each is supplied as Dynamic's
// SDK allows, with nothing patched:
//   * IndexedDB (its key storage): fake-indexeddb;
//   * coreConfig.storageAdapter: an in-memory map (a fresh app install: nothing stored);
//   * coreConfig.fetch: a function calling globalThis.fetch (in Node the SDK's default refuses).
// Any request the SDK makes to a host other than the emulator is answered at once with an empty
// 204 and counted (`offEmulatorRequests`), so nothing waits on a network this machine lacks.

const started = performance.now();
await import('fake-indexeddb/auto');
const { createDynamicClient, initializeClient, signInWithExternalJwt } = await import(
  '@dynamic-labs-sdk/client'
);
const imported = performance.now();

const { readFileSync } = await import('node:fs');
const fixture = JSON.parse(readFileSync(process.env.BYOA_BENCH_FIXTURE, 'utf8'));
const emulatorOrigin = new URL(fixture.apiBaseUrl).origin;

const stored = new Map();
const storageAdapter = {
  getItem: async (key) => stored.get(key) ?? null,
  setItem: async (key, value) => void stored.set(key, value),
  removeItem: async (key) => void stored.delete(key),
};

const requests = [];
let offEmulatorRequests = 0;
const fetchThroughNode = (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (url.origin !== emulatorOrigin) {
    offEmulatorRequests += 1;
    return Promise.resolve(new Response(null, { status: 204 }));
  }
  requests.push(`${init?.method ?? 'GET'} ${url.pathname}`);
  return globalThis.fetch(input, init);
};

const client = createDynamicClient({
  environmentId: fixture.environmentId,
  autoInitialize: false,
  coreConfig: { apiBaseUrl: fixture.apiBaseUrl, storageAdapter, fetch: fetchThroughNode },
  metadata: { name: 'dynamic-byoa bench', universalLink: 'https://bench.example' },
});
await initializeClient(client);
const initialized = performance.now();

const response = await signInWithExternalJwt({ externalJwt: fixture.externalJwt }, client);
const signedIn = performance.now();

if (!response?.user?.id || !response?.minifiedJwt) {
  console.error('sign-in returned no user or no token', Object.keys(response ?? {}));
  process.exit(1);
}
console.log(
  JSON.stringify({
    signedIn: true,
    userId: response.user.id,
    importMs: imported - started,
    initMs: initialized - imported,
    signInMs: signedIn - initialized,
    requests,
    offEmulatorRequests,
  }),
);
// The SDK leaves timers behind (settings cache, nonce pool): the job is done, so stop here.
process.exit(0);
