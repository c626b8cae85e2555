import net from 'node:net';
import tls from 'node:tls';

/**
 * A lean HTTP/1.1 GET client for the load test, on plain sockets: one request at a time per
 * connection, no pipelining, no agent. With `keepAlive` off it opens a connection per request
 * and sends `Connection: close`, as ApacheBench does without `-k`; with it on it reuses the
 * connection as `ab -k` does. The latency runs from the request's start (the connect, when a
 * connection is opened for it) to the last byte of the response, as ab measures it.
 */

export interface ClientTarget {
  /** Address to connect to (already resolved: no DNS lookup per connection). */
  addresses: string[];
  port: number;
  tls: boolean;
  /** Host name for SNI and the certificate check (https). */
  servername: string;
  /** The bytes of the request (`GET … HTTP/1.1`). */
  request: Buffer;
}

export function buildRequest(url: URL, keepAlive: boolean): Buffer {
  return Buffer.from(
    `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: cloudmart-load\r\nAccept: */*\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`,
    'latin1',
  );
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** An incremental parser of one HTTP/1.x response at a time. */
export class ResponseParser {
  status = 0;
  /** The server will close the connection after this response. */
  close = false;
  private head: Buffer | null = null;
  private phase: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'trailer' | 'eof' | 'done' =
    'head';
  private remaining = 0;
  private line = '';

  reset(): void {
    this.status = 0;
    this.close = false;
    this.head = null;
    this.phase = 'head';
    this.remaining = 0;
    this.line = '';
  }

  /** The response ends when the connection closes (no length, not chunked). */
  get endsAtEof(): boolean {
    return this.phase === 'eof';
  }

  /** Feed bytes; true once the response is complete. Throws on a malformed response. */
  feed(chunk: Buffer): boolean {
    let data = chunk;
    while (data.length > 0) {
      switch (this.phase) {
        case 'done':
          return true;
        case 'head': {
          const buf = this.head ? Buffer.concat([this.head, data]) : data;
          const end = buf.indexOf(CRLF2);
          if (end === -1) {
            if (buf.length > 64 * 1024) throw new Error('response header too large');
            this.head = buf;
            return false;
          }
          this.parseHead(buf.toString('latin1', 0, end));
          data = buf.subarray(end + 4);
          this.head = null;
          break;
        }
        case 'length':
        case 'chunk-data': {
          // A body of known length, or one chunk's data: count the bytes down.
          const n = Math.min(this.remaining, data.length);
          this.remaining -= n;
          data = data.subarray(n);
          if (this.remaining === 0) this.phase = this.phase === 'length' ? 'done' : 'chunk-size';
          break;
        }
        case 'chunk-size':
        case 'trailer': {
          const nl = data.indexOf(10);
          if (nl === -1) {
            this.line += data.toString('latin1');
            return false;
          }
          const line = (this.line + data.toString('latin1', 0, nl)).replace(/\r$/, '');
          this.line = '';
          data = data.subarray(nl + 1);
          if (this.phase === 'trailer') {
            if (line === '') this.phase = 'done';
            break;
          }
          if (line === '') break; // the CRLF after a chunk's data
          const size = parseInt(line, 16);
          if (!Number.isFinite(size) || size < 0) throw new Error('bad chunk size');
          if (size === 0) this.phase = 'trailer';
          else {
            this.remaining = size;
            this.phase = 'chunk-data';
          }
          break;
        }
        case 'eof':
          return false;
      }
    }
    return this.phase === 'done';
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.(\d) (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new Error('not an HTTP/1.x response');
    this.status = Number(m[2]);
    let length: number | undefined;
    let chunked = false;
    let connection = m[1] === '0' ? 'close' : 'keep-alive';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = /chunked/i.test(value);
      else if (name === 'connection') connection = value.toLowerCase();
    }
    this.close = connection.includes('close');
    if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200))
      this.phase = 'done';
    else if (chunked) this.phase = 'chunk-size';
    else if (length !== undefined && Number.isFinite(length)) {
      this.remaining = length;
      this.phase = length === 0 ? 'done' : 'length';
    } else {
      this.phase = 'eof';
      this.close = true;
    }
  }
}

/** How one request ended. */
export type Outcome =
  | { kind: 'response'; status: number; ms: number }
  | { kind: 'timeout'; ms: number }
  | { kind: 'error'; ms: number; error: string };

/**
 * One client connection slot: sends a request, reports its outcome, and is ready for the next.
 * The caller checks timeouts (`startedAt`, `expire`) so there is no timer per request.
 */
export class Connection {
  private socket: net.Socket | null = null;
  private readonly parser = new ResponseParser();
  /** performance.now() when the request in flight started; 0 when idle. */
  startedAt = 0;
  private next = 0;

  constructor(
    private readonly target: ClientTarget,
    private readonly keepAlive: boolean,
    private readonly onDone: (conn: Connection, outcome: Outcome) => void,
    offset = 0,
  ) {
    this.next = offset;
  }

  get busy(): boolean {
    return this.startedAt !== 0;
  }

  send(): void {
    this.startedAt = performance.now();
    this.parser.reset();
    if (this.socket) this.socket.write(this.target.request);
    else this.open();
  }

  /** The request in flight took too long: drop its connection and report a timeout. */
  expire(): void {
    if (!this.busy) return;
    this.finish({ kind: 'timeout', ms: performance.now() - this.startedAt }, true);
  }

  /** Close without reporting (the run is over). */
  destroy(): void {
    this.startedAt = 0;
    this.drop();
  }

  private drop(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.removeAllListeners('data');
      s.removeAllListeners('close');
      s.destroy();
    }
  }

  private finish(outcome: Outcome, drop: boolean): void {
    this.startedAt = 0;
    if (drop) this.drop();
    this.onDone(this, outcome);
  }

  private open(): void {
    const t = this.target;
    const host = t.addresses[this.next++ % t.addresses.length]!;
    const socket = t.tls
      ? tls.connect({ host, port: t.port, servername: t.servername, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port: t.port });
    this.socket = socket;
    socket.setNoDelay(true);
    // Written at once: the socket holds it until it is connected (and, for TLS, secure).
    socket.write(t.request);
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket || !this.busy) return;
      let complete: boolean;
      try {
        complete = this.parser.feed(chunk);
      } catch (e) {
        this.finish({ kind: 'error', ms: this.elapsed(), error: (e as Error).message }, true);
        return;
      }
      if (complete)
        this.finish(
          { kind: 'response', status: this.parser.status, ms: this.elapsed() },
          !this.keepAlive || this.parser.close,
        );
    });
    socket.on('error', () => undefined); // 'close' follows and reports it
    socket.on('close', (hadError: boolean) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.busy) return;
      if (!hadError && this.parser.endsAtEof) {
        this.finish({ kind: 'response', status: this.parser.status, ms: this.elapsed() }, false);
        return;
      }
      const err = (socket as net.Socket & { errored?: Error | null }).errored as
        NodeJS.ErrnoException | null | undefined;
      this.finish(
        {
          kind: 'error',
          ms: this.elapsed(),
          error: err?.code ?? err?.message ?? 'connection closed before the response ended',
        },
        false,
      );
    });
  }

  private elapsed(): number {
    return performance.now() - this.startedAt;
  }
}
