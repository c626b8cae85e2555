/** IPv4 CIDR arithmetic for the config's cross-field rules. */
export interface Range {
  start: number;
  end: number;
}

export function parseCidr(cidr: string): Range {
  const [ip, bits] = cidr.split('/');
  const octets = (ip ?? '').split('.').map(Number);
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  const prefix = Number(bits);
  const size = 2 ** (32 - prefix);
  const start = base - (base % size);
  return { start, end: start + size - 1 };
}

export function contains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  return i.start >= o.start && i.end <= o.end;
}

export function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.start <= y.end && y.start <= x.end;
}

/** True when the address part has bits set below the prefix (10.0.1.5/24). */
export function hasHostBits(cidr: string): boolean {
  const [ip] = cidr.split('/');
  const base = (ip ?? '')
    .split('.')
    .map(Number)
    .reduce((acc, o) => acc * 256 + o, 0);
  return parseCidr(cidr).start !== base;
}
