export { FakeTarget } from './client.js';
export { createFakeRotator } from './rotator.js';
export type { FakeSecret } from './secret.js';
