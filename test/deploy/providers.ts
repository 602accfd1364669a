/** Test data shared by the deploy tests. */

/** A provider description the size of a real one (local/apiKeyProvider.ts's, about 550 bytes). */
export function providerDescription(index: number): Record<string, unknown> {
  return {
    baseUrl: `https://api${index}.example.com/v1`,
    auth: { header: 'Authorization', value: 'Bearer {{admin.token}}' },
    maxLiveKeys: 2,
    create: { method: 'POST', path: '/keys', body: { name: '{{name}}' }, response: { id: 'id', key: 'key' } },
    list: {
      method: 'GET',
      path: '/keys',
      response: { items: 'keys', id: 'id', name: 'name', createdAt: 'createdAt' },
    },
    revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
    probe: { method: 'GET', path: '/whoami', headers: { 'X-Api-Key': '{{key}}' } },
  };
}
