/** Shared set-up of the API-key suites: the reference provider, a rotator for it, requests. */
import { randomUUID } from 'node:crypto';
import {
  type ApiKeyProvider,
  type ApiKeyProviderOptions,
  type ProviderKey,
  startApiKeyProvider,
} from '../../local/apiKeyProvider.js';
import { type ApiKeyRotatorOptions, createApiKeyRotator, type Fetch } from '../../rotators/apikey/index.js';
import { KeyNames } from '../../rotators/apikey/secret.js';
import type { Step } from '../../rotators/errors.js';
import type { RequestBase } from '../../rotators/types.js';
import { skipEngine, TEST_SECRET_ARN } from '../support/engines.js';

/** Integration suites of this engine run unless ROTOR_TEST_ENGINES is set without `apikey`. */
export const skipApiKey = skipEngine('apikey');

/** One request as the client sent it: what the provider cannot tell us (headers). */
export interface SentRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ProviderFixture {
  readonly provider: ApiKeyProvider;
  readonly rotator: ReturnType<typeof createApiKeyRotator>;
  /** The id secrets name as `adminSecretArn`. */
  readonly adminSecretArn: string;
  /** The admin secret's value (JSON with `token`). */
  readonly adminSecret: string;
  /** Every wait the client asked for between retries, in milliseconds. */
  readonly waits: number[];
  /** Every request the client sent. */
  readonly sent: SentRequest[];
  /** The rotator's clock (grace periods); `advance` moves it. */
  readonly clock: { now: number; advance(ms: number): void };
  /** A secret value for a key made by hand (the application's first key). */
  secretFor(key: ProviderKey, extra?: Record<string, unknown>): Record<string, unknown>;
  /** Key ids an operator adopted, by secret ARN (what `request.adopted()` answers). */
  readonly adoptions: Map<string, string[]>;
  /** Records that an operator adopted `key` for `secretArn` (default: the test secret). */
  adopt(key: ProviderKey, secretArn?: string): void;
  /**
   * The application's first key, made by hand and adopted by an operator for `secretArn`
   * (default: the test secret): the documented way to bring a hand-made key under rotor.
   */
  firstKey(name?: string, secretArn?: string): ProviderKey;
  /** How rotor names the keys of `secretArn` (default: the test secret). */
  names(secretArn?: string): KeyNames;
  /** A request base with a fresh token unless one is given, for the test secret unless another is named. */
  request(step: Step, options?: { token?: string; deadlineMs?: number; secretArn?: string }): RequestBase;
  /** Whether a key value authenticates at the protected endpoint, over HTTP. */
  canLogin(apiKey: string): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startProviderFixture(
  options: {
    provider?: ApiKeyProviderOptions;
    /** Changes to the provider's description before it is registered. */
    describe?: (description: Record<string, unknown>) => Record<string, unknown>;
    rotator?: Partial<ApiKeyRotatorOptions>;
    /** Fields added to the admin secret (`{"token": ...}`), such as an account id. */
    admin?: Record<string, unknown>;
  } = {},
): Promise<ProviderFixture> {
  const provider = await startApiKeyProvider(options.provider);
  const adminSecretArn = `apikey-admin-${randomUUID()}`;
  const adminSecret = JSON.stringify({ token: provider.adminToken, ...options.admin });
  const waits: number[] = [];
  const sent: SentRequest[] = [];
  const clock = {
    now: Date.now(),
    advance(ms: number) {
      clock.now += ms;
    },
  };
  const fetch: Fetch = (url, init) => {
    sent.push({ method: init.method, url, headers: { ...init.headers } });
    return globalThis.fetch(url, init);
  };
  // The operator pins the admin secret in the provider description (a description may pin its own).
  const description = {
    adminSecret: adminSecretArn,
    ...(options.describe?.(provider.description) ?? provider.description),
  };
  const rotator = createApiKeyRotator({
    providers: { local: description },
    fetch,
    // Waits are recorded, not slept: the suites assert what the client waited for, never timing.
    sleep: async (ms) => {
      waits.push(ms);
    },
    now: () => clock.now,
    ...options.rotator,
  });
  const adoptions = new Map<string, string[]>();
  const adopt = (key: ProviderKey, secretArn = TEST_SECRET_ARN) => {
    adoptions.set(secretArn, [...(adoptions.get(secretArn) ?? []), key.id]);
  };
  return {
    provider,
    rotator,
    adminSecretArn,
    adoptions,
    adopt,
    firstKey: (name = 'app', secretArn = TEST_SECRET_ARN) => {
      const key = provider.keys.mint(name);
      adopt(key, secretArn);
      return key;
    },
    names: (secretArn = TEST_SECRET_ARN) => new KeyNames(secretArn),
    adminSecret,
    waits,
    sent,
    clock,
    secretFor: (key, extra = {}) => ({
      engine: 'apikey',
      provider: 'local',
      adminSecretArn,
      keyId: key.id,
      apiKey: key.value,
      ...extra,
    }),
    request: (step, requestOptions = {}) => {
      const ms = requestOptions.deadlineMs ?? 20_000;
      return {
        signal: AbortSignal.timeout(ms),
        deadline: Date.now() + ms,
        token: requestOptions.token ?? randomUUID(),
        step,
        secretArn: requestOptions.secretArn ?? TEST_SECRET_ARN,
        adopted: async () => adoptions.get(requestOptions.secretArn ?? TEST_SECRET_ARN) ?? [],
        fetchRelated: async (id) => {
          if (id !== adminSecretArn) throw new Error(`unexpected related secret ${id}`);
          return adminSecret;
        },
        fetchMaster: async (id) => {
          throw new Error(`unexpected master secret ${id}`);
        },
      };
    },
    canLogin: async (apiKey) => {
      const response = await globalThis.fetch(`${provider.url}/v1/whoami`, {
        headers: { 'x-api-key': apiKey },
      });
      await response.text();
      return response.status === 200;
    },
    stop: () => provider.stop(),
  };
}

/** Keys minted for a rotation token of `secretArn` (default: the test secret). */
export function mintedFor(
  provider: ApiKeyProvider,
  token: string,
  secretArn = TEST_SECRET_ARN,
): ProviderKey[] {
  const names = new KeyNames(secretArn);
  return provider.keys.all().filter((key) => names.mintedFor(key.name, token));
}
