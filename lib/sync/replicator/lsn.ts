/** Postgres log sequence numbers ("16/B374D848") as comparable bigints, and back. */

export type Lsn = string;

export function lsnToBigInt(lsn: Lsn): bigint {
  const slash = lsn.indexOf('/');
  if (slash < 0) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${lsn.slice(0, slash)}`) << 32n) | BigInt(`0x${lsn.slice(slash + 1)}`);
}

export function bigIntToLsn(value: bigint): Lsn {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Negative, zero or positive, as `a` is before, at or after `b`. */
export function compareLsn(a: Lsn, b: Lsn): number {
  const x = lsnToBigInt(a);
  const y = lsnToBigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return compareLsn(a, b) >= 0 ? a : b;
}

export const ZERO_LSN: Lsn = '0/0';
