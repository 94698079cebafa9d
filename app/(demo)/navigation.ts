'use client';

/** The signed-in user, as the server page hands it over. */
export interface DemoUser {
  id: string;
  email: string;
  name: string | null;
}

/** The URL of a list's page, or of the overview. */
export function hrefOf(listId: string | null): string {
  return listId ? `/?list=${encodeURIComponent(listId)}` : '/';
}

/**
 * Moves between the overview and a list without a server round trip, so it works offline: Next's
 * router follows history.pushState (useSearchParams updates) and nothing is fetched.
 */
export function navigate(listId: string | null): void {
  window.history.pushState(null, '', hrefOf(listId));
}
