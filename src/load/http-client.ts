import net from 'node:net';
import tls from 'node:tls';

/**
 * A lean HTTP/1.1 GET client for the load test, on plain sockets: one request at a time per
 * connection, no pipelining, no agent. With `keepAlive` off it opens a connection per request
 * and sends `Connection: close`, as ApacheBench does without `-k`: the server closes the
 * connection after its answer and the slot is free only once it has (ab reads until the
 * server's close too), so the next request never overlaps the last one's connection. With it on
 * it reuses the connection as `ab -k` does. The latency runs from the request's start (the
 * connect, when a connection is opened for it) to the last byte of the response.
 *
 * Per request it allocates little: plain TCP reads go into one buffer shared by every
 * connection (`onread`, parsed synchronously, nothing kept from it), the request's bytes are
 * built once per run, and there is no timer per request (the runner sweeps for timeouts).
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
            // A copy: `data` may be the read buffer every connection shares.
            this.head = Buffer.from(buf);
            return false;
          }
          this.parseHead(buf, end);
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

  /** The last head parsed, and what it said: a server answers the same head again and again. */
  private lastHead: Buffer | null = null;
  private lastParsed: { status: number; close: boolean; chunked: boolean; length: number } | null =
    null;

  private parseHead(buf: Buffer, end: number): void {
    const last = this.lastHead;
    let parsed = this.lastParsed;
    if (!last || !parsed || last.length !== end || buf.compare(last, 0, end, 0, end) !== 0) {
      parsed = parseHeadText(buf.toString('latin1', 0, end));
      this.lastHead = Buffer.from(buf.subarray(0, end));
      this.lastParsed = parsed;
    }
    this.status = parsed.status;
    this.close = parsed.close;
    if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200))
      this.phase = 'done';
    else if (parsed.chunked) this.phase = 'chunk-size';
    else if (parsed.length >= 0) {
      this.remaining = parsed.length;
      this.phase = this.remaining === 0 ? 'done' : 'length';
    } else {
      this.phase = 'eof';
      this.close = true;
    }
  }
}

/** Status, connection and framing of a response head (without its final blank line). */
function parseHeadText(text: string): {
  status: number;
  close: boolean;
  chunked: boolean;
  length: number;
} {
  const m = STATUS_LINE.exec(text);
  if (!m) throw new Error('not an HTTP/1.x response');
  // Only three headers matter here: one case-insensitive search each, no split per line.
  const length = CONTENT_LENGTH.exec(text);
  const chunked = TRANSFER_ENCODING.exec(text)?.[1]?.toLowerCase().includes('chunked') === true;
  const connection = CONNECTION.exec(text)?.[1]?.toLowerCase() ?? (m[1] === '0' ? 'close' : '');
  return {
    status: Number(m[2]),
    close: connection.includes('close'),
    chunked,
    length: length ? Number(length[1]) : -1,
  };
}

const STATUS_LINE = /^HTTP\/1\.(\d) (\d{3})/;
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const TRANSFER_ENCODING = /\r\ntransfer-encoding:[ \t]*([^\r]*)/i;
const CONNECTION = /\r\nconnection:[ \t]*([^\r]*)/i;

/** How one request ended. */
export type Outcome =
  | { kind: 'response'; status: number; ms: number }
  | { kind: 'timeout'; ms: number }
  | { kind: 'error'; ms: number; error: string };

/** One read buffer for every plain-TCP connection: each read is parsed before the next. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const ignore = () => undefined;

/**
 * One client connection slot: sends a request, reports its outcome, and is ready for the next.
 * The caller checks timeouts (`startedAt`, `expire`) so there is no timer per request.
 */
export class Connection {
  /** The connection in use; null when none is open. */
  private socket: net.Socket | null = null;
  /**
   * Plain-TCP socket objects of this slot, closed and ready to connect again: with a connection
   * per request, connecting the same objects again saves building a socket (and its streams and
   * listeners) per request. Node allows it once 'close' has been emitted, which comes a little
   * after the server's close that frees the slot, so a slot takes turns with two of them.
   */
  private spares: net.Socket[] = [];
  private retired = false;
  private readonly parser = new ResponseParser();
  /** performance.now() when the request in flight started; 0 when idle. */
  startedAt = 0;
  private next = 0;
  /** The answer is in; the slot waits for the server to close the connection (ab without -k). */
  private answered: Outcome | null = null;

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
    this.answered = null;
    this.parser.reset();
    if (this.socket) this.socket.write(this.target.request);
    else this.open();
  }

  /**
   * The request in flight took too long: drop its connection and report a timeout. A request
   * already answered whose server has not closed yet reports its answer (the slot is freed).
   */
  expire(): void {
    if (!this.busy) return;
    if (this.answered) this.finish(this.answered, true);
    else this.finish({ kind: 'timeout', ms: performance.now() - this.startedAt }, true);
  }

  /** Close without reporting (the run is over). */
  destroy(): void {
    this.startedAt = 0;
    this.answered = null;
    this.drop();
    this.retired = true;
    this.spares = [];
  }

  /** Abandon the socket in use (its object is not reused: its 'close' is still to come). */
  private drop(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.removeAllListeners();
      s.on('error', ignore);
      s.destroy();
    }
  }

  private finish(outcome: Outcome, drop: boolean): void {
    this.startedAt = 0;
    this.answered = null;
    if (drop) this.drop();
    this.onDone(this, outcome);
  }

  /** Bytes of the response in flight (from the shared buffer or a TLS chunk). */
  private read(socket: net.Socket, chunk: Buffer): void {
    if (this.socket !== socket || !this.busy || this.answered) return;
    let complete: boolean;
    try {
      complete = this.parser.feed(chunk);
    } catch (e) {
      this.finish({ kind: 'error', ms: this.elapsed(), error: (e as Error).message }, true);
      return;
    }
    if (!complete) return;
    const outcome: Outcome = { kind: 'response', status: this.parser.status, ms: this.elapsed() };
    if (this.keepAlive && !this.parser.close) this.finish(outcome, false);
    else if (!this.keepAlive && this.parser.close) {
      // Timed to the last byte; the slot is free once the server has closed ('end' below).
      this.answered = outcome;
    } else this.finish(outcome, true); // a server that keeps a connection we asked to close
  }

  /** A plain-TCP socket of this slot with its listeners (they serve every connection it makes). */
  private createSocket(): net.Socket {
    // `onread` (reads into the shared buffer) is taken by the constructor, as net.connect passes
    // its options to it; @types/node lists it only among the connect options.
    const socket: net.Socket = new net.Socket({
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          this.read(socket, (buf as Buffer).subarray(0, n));
          return true;
        },
      },
    } as net.SocketConstructorOpts);
    this.listen(socket);
    return socket;
  }

  /**
   * 'error' is followed by 'close', which reports. The server's close after an answer we asked
   * it to close with frees the slot at once; our side closes behind it.
   */
  private listen(socket: net.Socket): void {
    socket.on('error', ignore);
    socket.on('end', () => {
      if (this.socket !== socket || !this.answered) return;
      this.socket = null;
      socket.destroy();
      this.finish(this.answered, false);
    });
    socket.on('close', (hadError: boolean) => this.closed(socket, hadError));
  }

  private closed(socket: net.Socket, hadError: boolean): void {
    if (!this.target.tls && !this.retired) this.spares.push(socket);
    if (this.socket !== socket) return;
    this.socket = null;
    if (!this.busy) return;
    if (this.answered) {
      this.finish(this.answered, false);
      return;
    }
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
  }

  private open(): void {
    const t = this.target;
    const host = t.addresses[this.next++ % t.addresses.length]!;
    if (t.tls) {
      const socket = tls.connect({
        host,
        port: t.port,
        servername: t.servername,
        ALPNProtocols: ['http/1.1'],
      });
      socket.on('data', (chunk: Buffer) => this.read(socket, chunk));
      this.listen(socket);
      this.socket = socket;
    } else {
      const socket = this.spares.pop() ?? this.createSocket();
      this.socket = socket;
      socket.connect({ host, port: t.port });
      // With keep-alive the next request goes out only after the answer (its ACK is in), so
      // Nagle never holds it; a connection per request writes once and skips the call.
      if (this.keepAlive) socket.setNoDelay(true);
    }
    // Written at once: the socket holds it until it is connected (and, for TLS, secure).
    this.socket.write(t.request);
  }

  private elapsed(): number {
    return performance.now() - this.startedAt;
  }
}
