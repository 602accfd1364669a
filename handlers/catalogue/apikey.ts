/**
 * The API-key function. Provider descriptions come from the function's configuration
 * (`ROTOR_APIKEY_PROVIDERS`, `ROTOR_APIKEY_INLINE_HOSTS`, read by handlers/config.ts) and are
 * validated on the first invocation, so a bad description fails loudly with the field named.
 */
import { createApiKeyRotator } from '../../rotators/apikey/index.js';
import type { FunctionWiring } from '../functions.js';

export const apikeyFunction: FunctionWiring = {
  key: 'apikey',
  rotators: (config) => [
    createApiKeyRotator({ providers: config.apiKeyProviders, inlineProviderHosts: config.apiKeyInlineHosts }),
  ],
};
