'use client';

import { useEffect } from 'react';
import { rememberForOffline, SERVICE_WORKER_URL } from './messages';

/**
 * Registers the offline service worker (public/sw.js, docs/offline.md) and, once it controls the
 * page, hands it the page's URL and everything the page loaded before it took control (the first
 * visit), so the next load works with no network. Renders nothing.
 */
export function RegisterServiceWorker() {
  useEffect(() => {
    if (!('serviceWorker' in navigator) || process.env.NODE_ENV !== 'production') return;
    const sendLoaded = () => {
      const resources = performance.getEntriesByType('resource').map((e) => e.name);
      rememberForOffline([location.pathname + location.search, ...resources]);
    };
    navigator.serviceWorker.addEventListener('controllerchange', sendLoaded);
    navigator.serviceWorker.register(SERVICE_WORKER_URL, { scope: '/' }).then(
      () => {
        if (navigator.serviceWorker.controller) sendLoaded();
      },
      (error: unknown) => console.warn('[lockstep] the offline service worker did not register:', error),
    );
    return () => navigator.serviceWorker.removeEventListener('controllerchange', sendLoaded);
  }, []);
  return null;
}
