/**
 * A tiny fake MySQL server on 127.0.0.1 that plays a hostile server: it greets, then asks the client
 * to authenticate in a way that would hand it the password, and records every byte the client sends
 * (and any password it manages to recover). It never lets anyone in (it ends every login with error
 * 1045), and it offers no TLS.
 *
 * Modes:
 * - `cleartext`: switches the client to a cleartext plugin (`mysql_clear_password` by default, or
 *   `dialog`, MariaDB's PAM client); whatever the client answers is the password.
 * - `caching-sha2-rsa`: `caching_sha2_password` asking for full authentication; when the client asks
 *   for the server's public key, it sends its own RSA key and decrypts what comes back.
 * - `sha256-rsa`: `sha256_password`, the same with its own RSA key.
 */
import { constants, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';

export type FakeMysqlMode = 'cleartext' | 'caching-sha2-rsa' | 'sha256-rsa';

export interface FakeMysql {
  readonly host: string;
  readonly port: number;
  /** Every byte clients sent, per connection, in order. */
  readonly received: Buffer[];
  /** Passwords the server recovered (cleartext answers, RSA-decrypted answers). */
  readonly recovered: string[];
  /** How many logins reached the authentication exchange. */
  readonly logins: () => number;
  /** Whether `text` (UTF-8) appears anywhere in what clients sent. */
  sawBytes(text: string): boolean;
  close(): Promise<void>;
}

const CAPABILITIES =
  0x1 | // LONG_PASSWORD
  0x8 | // CONNECT_WITH_DB
  0x200 | // PROTOCOL_41
  0x8000 | // SECURE_CONNECTION
  0x80000; // PLUGIN_AUTH

function packet(sequence: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequence & 0xff;
  return Buffer.concat([header, payload]);
}

function greeting(scramble: Buffer, plugin: string): Buffer {
  const flags = Buffer.alloc(2);
  flags.writeUInt16LE(CAPABILITIES & 0xffff);
  const upper = Buffer.alloc(2);
  upper.writeUInt16LE(CAPABILITIES >>> 16);
  const id = Buffer.alloc(4);
  id.writeUInt32LE(7);
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('8.0.36-fake\0'),
    id,
    scramble.subarray(0, 8),
    Buffer.from([0]),
    flags,
    Buffer.from([45]), // utf8mb4_general_ci
    Buffer.from([2, 0]), // status: autocommit
    upper,
    Buffer.from([21]),
    Buffer.alloc(10),
    scramble.subarray(8, 20),
    Buffer.from([0]),
    Buffer.from(`${plugin}\0`),
  ]);
}

function authSwitch(plugin: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`), data]);
}

const moreData = (data: Buffer) => Buffer.concat([Buffer.from([0x01]), data]);

function accessDenied(): Buffer {
  const code = Buffer.alloc(2);
  code.writeUInt16LE(1045);
  return Buffer.concat([Buffer.from([0xff]), code, Buffer.from('#28000Access denied')]);
}

const xorRotating = (data: Buffer, seed: Buffer) =>
  Buffer.from(data.map((b, i) => b ^ (seed[i % seed.length] as number)));

export async function startFakeMysql(
  mode: FakeMysqlMode,
  options: { cleartextPlugin?: string } = {},
): Promise<FakeMysql> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const received: Buffer[] = [];
  const recovered: string[] = [];
  const sockets = new Set<Socket>();
  let logins = 0;

  const recover = (encrypted: Buffer, scramble: Buffer) => {
    try {
      const plain = privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
        encrypted,
      );
      recovered.push(xorRotating(plain, scramble).toString('utf8').replace(/\0$/, ''));
    } catch {
      // Not an RSA answer: nothing recovered.
    }
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const scramble = Buffer.from(randomBytes(20).map((b) => (b === 0 ? 1 : b)));
    const own: Buffer[] = [];
    received.push(Buffer.alloc(0));
    const index = received.length - 1;
    let pending = Buffer.alloc(0);
    let stage = 0;
    const firstPlugin =
      mode === 'caching-sha2-rsa'
        ? 'caching_sha2_password'
        : mode === 'sha256-rsa'
          ? 'sha256_password'
          : 'mysql_native_password';
    const send = (sequence: number, payload: Buffer) => socket.write(packet(sequence, payload));
    const deny = (sequence: number) => {
      send(sequence, accessDenied());
      socket.end();
    };

    const onPacket = (sequence: number, payload: Buffer) => {
      const next = sequence + 1;
      if (stage === 0) {
        // The handshake response.
        logins++;
        stage = 1;
        if (mode === 'cleartext') {
          send(next, authSwitch(options.cleartextPlugin ?? 'mysql_clear_password', Buffer.alloc(0)));
        } else if (mode === 'sha256-rsa') {
          send(next, authSwitch('sha256_password', Buffer.concat([scramble, Buffer.from([0])])));
        } else if (payload.includes(Buffer.from('caching_sha2_password\0'))) {
          // The client already answered the scramble with caching_sha2_password: ask for full authentication.
          stage = 2;
          send(next, moreData(Buffer.from([4])));
        } else {
          send(next, authSwitch('caching_sha2_password', Buffer.concat([scramble, Buffer.from([0])])));
        }
        return;
      }
      if (mode === 'cleartext') {
        recovered.push(payload.toString('utf8').replace(/\0$/, ''));
        return deny(next);
      }
      if (mode === 'caching-sha2-rsa' && stage === 1) {
        // The scramble response: full authentication needed.
        stage = 2;
        return send(next, moreData(Buffer.from([4])));
      }
      if (payload.length === 1 && (payload[0] === 2 || payload[0] === 1)) {
        // The client asks for the server's public key: here is one only this server can decrypt for.
        stage = 3;
        return send(next, moreData(Buffer.from(publicKey)));
      }
      if (payload.length >= 256) recover(payload, scramble);
      else recovered.push(payload.toString('utf8').replace(/\0$/, ''));
      return deny(next);
    };

    socket.on('data', (chunk: Buffer) => {
      own.push(chunk);
      received[index] = Buffer.concat(own);
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending.readUIntLE(0, 3);
        if (pending.length < 4 + length) break;
        const sequence = pending[3] as number;
        const payload = pending.subarray(4, 4 + length);
        pending = pending.subarray(4 + length);
        onPacket(sequence, payload);
      }
    });
    send(0, greeting(scramble, firstPlugin));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    received,
    recovered,
    logins: () => logins,
    sawBytes: (text) => received.some((bytes) => bytes.includes(Buffer.from(text, 'utf8'))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
