'use client';

import { useCallback, useEffect, useState } from 'react';
import type { RejectedWrite } from '@/lib/sync/client/writes/queue-store';
import { useSyncContext } from './context';

export interface RejectedWritesResult {
  /** Local transactions the server refused, newest first: each with its ops and the server's error. */
  rejected: RejectedWrite[];
  /** Forgets them (all, or those transaction ids) once shown. */
  dismiss(ids?: readonly string[]): Promise<void>;
}

/**
 * The local transactions the server rejected (docs/writes.md#rejections). Their changes were
 * already undone locally; show them so nothing the user did disappears without a word.
 *
 * @example
 *   const { rejected, dismiss } = useRejectedWrites();
 *   rejected.map((r) => <p key={r.transactionId}>{r.error.message} <button onClick={() => dismiss([r.transactionId])}>OK</button></p>);
 */
export function useRejectedWrites(): RejectedWritesResult {
  const { client } = useSyncContext();
  const [rejected, setRejected] = useState<RejectedWrite[]>([]);

  const refresh = useCallback(() => {
    client.rejectedWrites().then(setRejected, () => {});
  }, [client]);

  useEffect(() => {
    refresh();
    // A rejection changes the pending count and the upload error: read the list again then.
    let last = '';
    return client.onStatus((status) => {
      const key = `${status.pendingUploads}\u0000${status.uploadError?.code ?? ''}\u0000${status.uploadError?.message ?? ''}`;
      if (key === last) return;
      last = key;
      refresh();
    });
  }, [client, refresh]);

  const dismiss = useCallback(
    async (ids?: readonly string[]) => {
      await client.dismissRejected(ids);
      refresh();
    },
    [client, refresh],
  );

  return { rejected, dismiss };
}
