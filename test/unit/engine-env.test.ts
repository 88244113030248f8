import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import type { StoredTask } from '../../src/store/rows.js';
import { createEnvFor } from '../../src/runner/routing.js';

const HOST_ENV = {
  PATH: '/usr/bin',
  HOME: '/root',
  ANTHROPIC_BASE_URL: 'https://gateway.example/anthropic',
  ANTHROPIC_AUTH_TOKEN: 'gw-token',
  ANTHROPIC_API_KEY: 'sk-ant-x',
  ANTHROPIC_MODEL: 'claude-sonnet-5',
  CLAUDE_CODE_USE_BEDROCK: '1',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIA…',
  AWS_SECRET_ACCESS_KEY: 'secret',
  CLAUDE_CODE_USE_VERTEX: '1',
  CLOUD_ML_REGION: 'europe-west4',
  VERTEX_REGION_CLAUDE_SONNET_5: 'us-east5',
  ANTHROPIC_VERTEX_PROJECT_ID: 'proj',
  CLAUDE_CODE_USE_FOUNDRY: '1',
  ANTHROPIC_FOUNDRY_API_KEY: 'foundry-key',
  GROQ_API_KEY: 'gsk-x',
  UNRELATED_SECRET: 'nope',
};
const task = {} as StoredTask;

describe('provider variables reach their engine only', () => {
  const envFor = createEnvFor(defaultConfig(), HOST_ENV);

  it('claude gets its base URL, token and the Bedrock/Vertex/Foundry settings', () => {
    const env = envFor(task, 'claude');
    for (const k of [
      'ANTHROPIC_BASE_URL',
      'ANTHROPIC_AUTH_TOKEN',
      'ANTHROPIC_API_KEY',
      'ANTHROPIC_MODEL',
      'CLAUDE_CODE_USE_BEDROCK',
      'AWS_REGION',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'CLAUDE_CODE_USE_VERTEX',
      'CLOUD_ML_REGION',
      'VERTEX_REGION_CLAUDE_SONNET_5',
      'ANTHROPIC_VERTEX_PROJECT_ID',
      'CLAUDE_CODE_USE_FOUNDRY',
      'ANTHROPIC_FOUNDRY_API_KEY',
    ]) {
      expect(env[k], k).toBe(HOST_ENV[k as keyof typeof HOST_ENV]);
    }
    expect(env.GROQ_API_KEY).toBeUndefined();
    expect(env.UNRELATED_SECRET).toBeUndefined();
  });

  it('an exec task or another engine sees none of them (a task cannot read the gateway token)', () => {
    for (const engine of ['exec', 'groq']) {
      const env = envFor(task, engine);
      expect(
        Object.keys(env).filter((k) => /ANTHROPIC|CLAUDE|AWS|VERTEX|FOUNDRY|CLOUD_ML/.test(k)),
        engine,
      ).toEqual([]);
    }
    expect(envFor(task, 'groq').GROQ_API_KEY).toBe('gsk-x');
    expect(envFor(task, 'exec').GROQ_API_KEY).toBeUndefined();
  });
});
