// The offline verifier's service worker (issue 14 item 3), served as /offline/sw.js (scope /offline/).
// It keeps what the page needs without a network: the page, its scripts and styles, the QR decoder
// and its WebAssembly, the public keys (JWKS) and the signed status list. Network first — online, the
// page and its data are always the newest (and the copies are refreshed); offline, the copies answer.
// The page itself checks the list's signature and age: a copy past its next_update is "status unknown".

const CACHE = "ecert-offline-v1";
const DATA = ["/.well-known/jwks.json", "/.well-known/ecert-status-list"];
const SHELL = [
  "/offline/",
  "/offline/manifest.webmanifest",
  "/static/style.css",
  "/static/scan.css",
  "/static/scan.js",
  "/static/offline/offline.css",
  "/static/offline/verifier.js",
  "/static/vendor/zxing-wasm/es/reader/index.js",
  "/static/vendor/zxing-wasm/es/share.js",
  "/static/vendor/zxing-wasm/reader/zxing_reader.wasm",
  "/favicon.svg",
];
const KEPT = new Set([...SHELL, ...DATA]);
const NETWORK_WAIT_MS = 5000; // a network that does not answer (a basement) counts as none

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...SHELL, ...DATA].map((url) => new Request(url, { cache: "no-cache" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("ecert-offline-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

async function networkFirst(request, path) {
  const cache = await caches.open(CACHE);
  try {
    const response = await withTimeout(fetch(request.url, { cache: "no-cache" }), NETWORK_WAIT_MS);
    if (response.ok) {
      await cache.put(path, response.clone());
      return response;
    }
    const kept = await cache.match(path);
    return kept || response;
  } catch (err) {
    const kept = await cache.match(path);
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname === "/offline" ? "/offline/" : url.pathname;
  if (!KEPT.has(path)) return;
  event.respondWith(networkFirst(event.request, path));
});
