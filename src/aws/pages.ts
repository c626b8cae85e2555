/**
 * Every item of every page of a paginated AWS list (the SDK's `paginateXxx` helpers). AWS may
 * answer a filtered describe with fewer items than asked for, even none, and a token for the
 * next page, so the first page alone never proves something is absent.
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-pagination.html
 */
export async function allPages<P, T>(
  pages: AsyncIterable<P>,
  items: (page: P) => readonly T[] | undefined,
): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...(items(page) ?? []));
  return out;
}

/** The first item of any page that matches, reading no further than needed. */
export async function firstInPages<P, T>(
  pages: AsyncIterable<P>,
  items: (page: P) => readonly T[] | undefined,
  match: (item: T) => boolean = () => true,
): Promise<T | undefined> {
  for await (const page of pages) {
    const found = (items(page) ?? []).find(match);
    if (found !== undefined) return found;
  }
  return undefined;
}
