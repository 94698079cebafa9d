'use client';

import { useRejectedWriteViews } from '../data';
import styles from '../demo.module.css';

/** Changes the server refused: they were undone locally, and this says which and why. */
export function RejectedWrites() {
  const { rejected, dismiss } = useRejectedWriteViews();
  return (
    <section aria-labelledby="rejected-heading" className={styles.panel}>
      <h2 id="rejected-heading">Rejected writes</h2>
      {rejected.length === 0 ? (
        <p className={styles.muted}>None: every change you made was accepted.</p>
      ) : (
        <>
          <ul aria-label="Rejected writes" className={styles.rejected}>
            {rejected.map((r) => (
              <li key={r.transactionId}>
                <strong>{r.summary}</strong> <code>{r.code}</code>
                <div>{r.message}</div>
                <small className={styles.muted}>{new Date(r.rejectedAt).toLocaleString()}</small>
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => void dismiss()}>
            Dismiss all
          </button>
        </>
      )}
    </section>
  );
}
