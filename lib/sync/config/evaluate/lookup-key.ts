/**
 * Lookup keys of the parameter index: `<bucket>/<query number>` followed by the JSON array of the
 * lookup's input keys, e.g. `list/2["5f0c…"]` for "list_members rows whose user_id is 5f0c…".
 * Storage treats them as opaque strings and only tests them for equality.
 */
export function lookupKey(queryId: string, inputs: readonly string[]): string {
  return queryId + JSON.stringify(inputs);
}

/** A bucket id: the bucket's name and the JSON array of its parameter values, e.g. `list["5f0c…"]`. */
export function bucketIdOf(bucket: string, values: readonly string[]): string {
  return bucket + JSON.stringify(values);
}
