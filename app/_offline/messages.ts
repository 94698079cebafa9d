/**
 * The page's side of the offline service worker (public/sw.js). The message types are shared
 * with the worker by name: keep them in step with public/sw.js.
 */
export const SERVICE_WORKER_URL = '/sw.js';

/** Asks the service worker to keep copies of these same-origin URLs (the page and what it loaded). */
export function rememberForOffline(urls: string[]): void {
  navigator.serviceWorker?.controller?.postMessage({ type: 'lockstep:cache-urls', urls });
}

/** Deletes every offline copy (on sign-out: the next user must not open the previous one's page). */
export async function forgetOfflineCopies(): Promise<void> {
  if (typeof caches === 'undefined') return;
  const names = await caches.keys();
  await Promise.all(names.filter((n) => n.startsWith('lockstep-')).map((n) => caches.delete(n)));
}

/**
 * Asks the service worker to keep this page (by path; the query string does not matter) once it
 * controls the page: after sign-in the app arrives by a client-side navigation, which never
 * fetches the page's HTML through the worker.
 */
export function rememberThisPage(): () => void {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return () => {};
  const send = () => rememberForOffline([location.pathname]);
  if (navigator.serviceWorker.controller) send();
  navigator.serviceWorker.addEventListener('controllerchange', send);
  return () => navigator.serviceWorker.removeEventListener('controllerchange', send);
}
