/** cli/functionEngines.ts: the tag, then the name, and one GetFunction per function per invocation. */
import { describe, expect, it } from 'vitest';
import type { AwsContext } from '../../cli/aws.js';
import { functionEngines } from '../../cli/functionEngines.js';

const FN = 'arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-postgres';
const OTHER = 'arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-mysql';

/** A context whose Lambda answers GetFunction with `tags`, counting the calls by function. */
function contextAnswering(tags: Record<string, string>) {
  const calls: string[] = [];
  const context = {
    where: 'eu-west-1',
    lambda: () => ({
      send: async (command: { input: { FunctionName: string } }) => {
        calls.push(command.input.FunctionName);
        return { Tags: tags };
      },
    }),
  } as unknown as AwsContext;
  return { context, calls };
}

describe('functionEngines', () => {
  it('asks Lambda once per function for one context, however many secrets ask', async () => {
    const { context, calls } = contextAnswering({ 'rotor:engines': 'postgres aurora-postgresql' });
    const answers = await Promise.all([
      functionEngines(context, FN),
      functionEngines(context, FN),
      functionEngines(context, OTHER),
    ]);
    await functionEngines(context, FN);
    expect(calls).toEqual([FN, OTHER]);
    expect(answers[0]).toEqual({ engines: ['postgres', 'aurora-postgresql'], source: 'tag' });
    expect(answers[1]).toBe(answers[0]);
  });

  it('asks again for another context (another invocation)', async () => {
    const first = contextAnswering({});
    const second = contextAnswering({});
    await functionEngines(first.context, FN);
    const found = await functionEngines(second.context, FN);
    expect(second.calls).toEqual([FN]);
    expect(found.source).toBe('name');
  });
});
