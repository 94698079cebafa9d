'use client';

import { useCallback, useState } from 'react';

/**
 * Runs a local write and keeps its error to show. A local write fails only when the local
 * database refuses it (the server's verdict comes later, in the rejected-writes panel).
 */
export function useWriteError(): [string | null, (write: () => Promise<void>) => void] {
  const [error, setError] = useState<string | null>(null);
  const run = useCallback((write: () => Promise<void>) => {
    setError(null);
    write().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, []);
  return [error, run];
}

export function WriteError({ error }: { error: string | null }) {
  return error ? <p role="alert">{error}</p> : null;
}
