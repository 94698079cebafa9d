/**
 * Where a source row is: one "placement" per (bucket, client table) it is in. Stored in
 * current_rows.buckets as `${clientTable}\u001f${bucket}`, because a REMOVE must name the client
 * table the row was sent under, and one source table can be synced under several client names.
 */
const SEPARATOR = '\u001f';

export interface Placement {
  bucket: string;
  table: string;
}

export function encodePlacement(p: Placement): string {
  return `${p.table}${SEPARATOR}${p.bucket}`;
}

export function decodePlacement(encoded: string): Placement {
  const at = encoded.indexOf(SEPARATOR);
  if (at < 0) throw new Error(`corrupt placement in bucket storage: ${JSON.stringify(encoded)}`);
  return { table: encoded.slice(0, at), bucket: encoded.slice(at + 1) };
}
