/**
 * Paged LIST calls: `limit` + `continue`, each page through the retry helper. An AKS cluster can hold thousands of
 * pods; a page bound keeps each answer (and the API server's work per request) small.
 */
import { withRetry } from './retry.js';
import type { RetryPolicy } from './retry.js';

export const PAGE_SIZE = 500;
/** A safety stop: 200 pages of 500 is 100,000 objects, far beyond one node's pods or one cluster's nodes. */
const MAX_PAGES = 200;

export interface ListPage<T> {
  readonly items: T[];
  readonly metadata?: { readonly _continue?: string };
}

export async function listAll<T>(
  operation: string,
  policy: RetryPolicy,
  fetchPage: (page: { limit: number; _continue?: string }) => Promise<ListPage<T>>,
  pageSize: number = PAGE_SIZE,
): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const current = token;
    const result = await withRetry(
      operation,
      () => fetchPage(current === undefined ? { limit: pageSize } : { limit: pageSize, _continue: current }),
      policy,
    );
    items.push(...result.items);
    token = result.metadata?._continue || undefined;
    if (token === undefined) return items;
  }
  return items;
}
