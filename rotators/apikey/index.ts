export type { Fetch, Sleep } from './client.js';
export { type ApiKeyRotatorOptions, type ApiKeySecret, createApiKeyRotator } from './rotator.js';
export { ENGINE as API_KEY_ENGINE, KeyNames, keyTag } from './secret.js';
