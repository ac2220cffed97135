/** Counting helpers that give every ranked list in the project the same order: count descending, then key ascending. */

export function bump<K>(counts: Map<K, number>, key: K, by = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}

export function byCountThenKey<T>(count: (item: T) => number, key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const diff = count(b) - count(a);
    if (diff !== 0) return diff;
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

/** `Map<key, count>` -> `[{ [keyName]: key, [countName]: count }]`, sorted. */
export function rankCounts<KN extends string, CN extends string>(
  counts: ReadonlyMap<string, number>,
  keyName: KN,
  countName: CN,
): Array<Record<KN, string> & Record<CN, number>> {
  return [...counts]
    .sort(
      byCountThenKey<[string, number]>(
        ([, c]) => c,
        ([k]) => k,
      ),
    )
    .map(([k, c]) => ({ [keyName]: k, [countName]: c }) as Record<KN, string> & Record<CN, number>);
}
