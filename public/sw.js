/*
 * Lockstep's offline service worker (docs/offline.md). Plain JavaScript served as is from public/,
 * registered by app/_offline/register-service-worker.tsx.
 *
 * - /_next/static/** and /sqlite/**: cache first. Their names change with their content (Next's
 *   hashed chunks; sqlite-wasm's files only change with its pinned version), so a cached copy is
 *   always right.
 * - Page navigations: network first; a successful answer is kept (by path, without the query
 *   string) and served when the network is unreachable. A redirect (signed out) is never kept.
 * - Everything else (/api/**, server actions, Next's RSC fetches): straight to the network. The
 *   sync client copes with being offline by itself; a client-side navigation that fails offline
 *   falls back to a full page load, which the rule above serves.
 *
 * The page posts { type: 'lockstep:cache-urls', urls } with what it loaded before this worker
 * took control (the first visit), and signing out deletes every lockstep-* cache.
 */
const VERSION = 'v1';
const PAGES = `lockstep-pages-${VERSION}`;
const ASSETS = `lockstep-assets-${VERSION}`;
/** sqlite-wasm's files, loaded by the database worker (scripts/copy-sqlite-wasm.ts). */
const PRECACHE = ['/sqlite/index.mjs', '/sqlite/sqlite3.wasm', '/sqlite/sqlite3-opfs-async-proxy.js'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(ASSETS)
      .then((cache) => cache.addAll(PRECACHE))
      .catch(() => undefined)
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('lockstep-') && n !== PAGES && n !== ASSETS).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function isAsset(url) {
  return url.origin === self.location.origin && (url.pathname.startsWith('/_next/static/') || url.pathname.startsWith('/sqlite/'));
}

function isPage(url) {
  return url.origin === self.location.origin && !url.pathname.startsWith('/api/') && !url.pathname.startsWith('/_next/') && !url.searchParams.has('_rsc') && !/\.[a-z0-9]+$/i.test(url.pathname);
}

/** The cache key of a page: its path alone, so /?list=… opens from the copy of /. */
function pageKey(url) {
  return new URL(url.pathname, url.origin).href;
}

async function cacheFirst(request) {
  const cache = await caches.open(ASSETS);
  const hit = await cache.match(request, { ignoreVary: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') await cache.put(request, response.clone());
  return response;
}

async function networkFirstPage(request) {
  const url = new URL(request.url);
  const cache = await caches.open(PAGES);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected && response.type === 'basic') await cache.put(pageKey(url), response.clone());
    return response;
  } catch (error) {
    const hit = await cache.match(pageKey(url), { ignoreVary: true });
    if (hit) return hit;
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (isAsset(url)) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === 'navigate' && isPage(url)) {
    event.respondWith(networkFirstPage(request));
  }
});

/** Keeps copies of URLs the page names: assets as they are, pages fetched again with the session. */
async function remember(urls) {
  const [pages, assets] = await Promise.all([caches.open(PAGES), caches.open(ASSETS)]);
  await Promise.all(
    urls.map(async (href) => {
      try {
        const url = new URL(href, self.location.origin);
        if (isAsset(url)) {
          if (!(await assets.match(url.href, { ignoreVary: true }))) await assets.add(url.href);
        } else if (isPage(url)) {
          const response = await fetch(url.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
          if (response.ok && !response.redirected) await pages.put(pageKey(url), response);
        }
      } catch {
        // Offline or gone: the next visit tries again.
      }
    }),
  );
}

self.addEventListener('message', (event) => {
  const data = event.data;
  if (data && data.type === 'lockstep:cache-urls' && Array.isArray(data.urls)) {
    event.waitUntil(remember(data.urls.filter((u) => typeof u === 'string')));
  }
});
