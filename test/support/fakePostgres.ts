/**
 * A fake PostgreSQL server on 127.0.0.1 that speaks just enough of the wire protocol to ask a
 * client for a password, and records every byte clients send: the way to prove that a client sent
 * no password (nor a hash of it) to a server it should not trust.
 *
 * It refuses TLS (answers `N` to an SSLRequest, as a server without TLS does) unless given a
 * certificate (then it records what arrives inside the TLS session), reads the startup
 * message, and asks for the authentication method it was given: `password` (cleartext), `md5`
 * (with a fixed salt) or `scram` (SCRAM-SHA-256; it cannot finish the exchange, it knows no
 * verifier), or `trust` (lets anyone in without asking, and answers nothing but the login).
 * Whatever the client answers is recorded; the server then refuses the login with SQLSTATE 28P01
 * and closes.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export type FakeAuthMethod = 'password' | 'md5' | 'scram' | 'trust';

export interface FakePostgres {
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Every byte every client sent (inside TLS: decrypted), in order of arrival, per connection. */
  received(): Buffer[];
  /** All of it, concatenated. */
  allBytes(): Buffer;
  /** The user names of the startup messages received. */
  startupUsers(): string[];
  /** Whether a client asked for TLS (sent an SSLRequest). */
  sslRequested(): boolean;
  /** Whether any password message ('p': password, MD5 hash or SASL response) arrived. */
  passwordMessages(): number;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
export const FAKE_MD5_SALT = Buffer.from([1, 2, 3, 4]);

/** The MD5 answer a client would send for `user` / `password` with the fake's salt. */
export function md5Answer(user: string, password: string): string {
  const inner = createHash('md5')
    .update(password + user)
    .digest('hex');
  return `md5${createHash('md5')
    .update(Buffer.concat([Buffer.from(inner), FAKE_MD5_SALT]))
    .digest('hex')}`;
}

function message(type: string, body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from(type), length, body]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

function authRequest(method: FakeAuthMethod): Buffer {
  switch (method) {
    case 'trust':
      return Buffer.concat([message('R', int32(0)), message('Z', Buffer.from('I'))]);
    case 'password':
      return message('R', int32(3));
    case 'md5':
      return message('R', Buffer.concat([int32(5), FAKE_MD5_SALT]));
    case 'scram':
      return message('R', Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0')]));
  }
}

const refusal = message('E', Buffer.from('SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0'));

export interface FakePostgresOptions {
  /** Accept TLS with this certificate and key (PEM text) instead of refusing it. */
  tls?: { cert: string; key: string };
}

export async function startFakePostgres(
  method: FakeAuthMethod,
  options: FakePostgresOptions = {},
): Promise<FakePostgres> {
  const chunks: Buffer[][] = [];
  const users: string[] = [];
  const sockets = new Set<Socket>();
  let ssl = false;
  let passwords = 0;

  /** Speaks the protocol on `stream` (the socket, or the TLS session on top of it). */
  function serve(socket: Socket, stream: Socket | TLSSocket, mine: Buffer[]): void {
    let pending = Buffer.alloc(0);
    let started = false;
    const onData = (data: Buffer) => {
      mine.push(Buffer.from(data));
      pending = Buffer.concat([pending, data]);
      for (;;) {
        if (!started) {
          if (pending.length < 8) return;
          const length = pending.readInt32BE(0);
          if (pending.length < length) return;
          const code = pending.readInt32BE(4);
          const body = pending.subarray(8, length);
          pending = pending.subarray(length);
          if (code === SSL_REQUEST && options.tls !== undefined && stream === socket) {
            ssl = true;
            stream.removeListener('data', onData);
            stream.write('S');
            const secure = new TLSSocket(socket, { isServer: true, ...options.tls });
            secure.on('error', () => undefined);
            serve(socket, secure, mine);
            return;
          }
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            if (code === SSL_REQUEST) ssl = true;
            stream.write('N');
            continue;
          }
          started = true;
          const fields = body.toString('utf8').split('\0');
          const userAt = fields.indexOf('user');
          if (userAt >= 0) users.push(fields[userAt + 1] ?? '');
          stream.write(authRequest(method));
          continue;
        }
        if (pending.length < 5) return;
        const type = String.fromCharCode(pending[0] ?? 0);
        const length = pending.readInt32BE(1);
        if (pending.length < length + 1) return;
        pending = pending.subarray(length + 1);
        if (type === 'p') {
          passwords++;
          stream.end(refusal);
          return;
        }
        if (type === 'X') {
          stream.end();
          return;
        }
      }
    };
    stream.on('data', onData);
  }

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const mine: Buffer[] = [];
    chunks.push(mine);
    serve(socket, socket, mine);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('the fake server has no port');

  return {
    host: '127.0.0.1',
    port: address.port,
    connections: () => chunks.length,
    received: () => chunks.map((list) => Buffer.concat(list)),
    allBytes: () => Buffer.concat(chunks.flat()),
    startupUsers: () => [...users],
    sslRequested: () => ssl,
    passwordMessages: () => passwords,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
