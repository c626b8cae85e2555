import { CloudmartError } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { AlbOutputs, DnsOutputs } from '../steps/outputs.js';

/**
 * Where the app answers. Without a domain the ALB serves plain HTTP on its own DNS name (the
 * seed's `http://<ALB>`). With a domain, port 80 only redirects to HTTPS and the certificate
 * names `api.<domain>`, not the ALB's DNS name, so the API record is the address to use.
 */
export function stackBaseUrl(config: Config, alb: AlbOutputs, dns?: DnsOutputs): string {
  if (!alb.httpsEnabled) return `http://${alb.dnsName}`;
  const host =
    dns?.apiRecord?.replace(/\.$/, '') ||
    (config.dns.domain ? `${config.dns.apiSubdomain}.${config.dns.domain}` : alb.dnsName);
  return `https://${host}`;
}

/** `base` + `path` (one slash between them). */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** A URL given without a path (`http://host:port`) gets `path`; one with a path is kept. */
export function withDefaultPath(url: string, path: string): string {
  const u = new URL(url);
  if ((u.pathname === '' || u.pathname === '/') && u.search === '') u.pathname = path;
  return u.toString();
}

/**
 * A --url the load test can use: http:// or https://. "127.0.0.1:8081" (no scheme) is a usage
 * error that says what was probably meant, not a crash.
 */
export function checkTargetUrl(url: string): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:')) return parsed;
  const bare = !/^[a-z][a-z0-9+.-]*:\/\//i.test(url);
  throw new CloudmartError('USAGE', `--url ${url} is not an http:// or https:// URL`, {
    exitCode: 2,
    hint: bare
      ? `Did you mean --url http://${url} ?`
      : 'Pass a URL such as http://host:8080/api/products.',
  });
}
