/**
 * Which environment variables reach which engine (passed to scrubEnv as
 * `engineKeys`): an engine's provider variables — endpoint, credentials,
 * cloud switches — reach that engine only, never an exec task or another
 * engine. Anything else a user needs goes in `safety.env_allow`.
 */
import type { ColonyConfig } from '../core/config.js';

/**
 * Claude Code's provider variables (Claude Code 2.1.x): the Anthropic API or a
 * gateway (base URL, key or bearer token, extra headers), Amazon Bedrock,
 * Google Vertex AI and Microsoft Foundry (switch, endpoint, region,
 * credentials), model pins and retry/timeout knobs. `*` = a prefix.
 */
export const CLAUDE_PROVIDER_ENV: readonly string[] = Object.freeze([
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'ANTHROPIC_BASE_URL',
  'ANTHROPIC_CUSTOM_HEADERS',
  'ANTHROPIC_BETAS',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'CLAUDE_CODE_API_KEY_HELPER_TTL_MS',
  'ANTHROPIC_MODEL',
  'ANTHROPIC_SMALL_FAST_MODEL',
  'ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION',
  'ANTHROPIC_DEFAULT_OPUS_MODEL',
  'ANTHROPIC_DEFAULT_SONNET_MODEL',
  'ANTHROPIC_DEFAULT_HAIKU_MODEL',
  'CLAUDE_CODE_SUBAGENT_MODEL',
  // Amazon Bedrock
  'CLAUDE_CODE_USE_BEDROCK',
  'ANTHROPIC_BEDROCK_BASE_URL',
  'CLAUDE_CODE_SKIP_BEDROCK_AUTH',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_BEARER_TOKEN_BEDROCK',
  // Google Vertex AI
  'CLAUDE_CODE_USE_VERTEX',
  'ANTHROPIC_VERTEX_BASE_URL',
  'ANTHROPIC_VERTEX_PROJECT_ID',
  'CLAUDE_CODE_SKIP_VERTEX_AUTH',
  'CLOUD_ML_REGION',
  'VERTEX_REGION_CLAUDE_*',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'GOOGLE_CLOUD_PROJECT',
  'GCLOUD_PROJECT',
  // Microsoft Foundry
  'CLAUDE_CODE_USE_FOUNDRY',
  'ANTHROPIC_FOUNDRY_BASE_URL',
  'ANTHROPIC_FOUNDRY_RESOURCE',
  'ANTHROPIC_FOUNDRY_API_KEY',
  'CLAUDE_CODE_SKIP_FOUNDRY_AUTH',
  // behaviour of the API client
  'CLAUDE_CODE_MAX_RETRIES',
  'API_TIMEOUT_MS',
  'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
]);

/** Gemini CLI's provider variables (Gemini API key, endpoint, Vertex AI switch and project). */
export const GEMINI_PROVIDER_ENV: readonly string[] = Object.freeze([
  'GEMINI_API_KEY',
  'GOOGLE_API_KEY',
  'GOOGLE_GEMINI_BASE_URL',
  'GOOGLE_GENAI_USE_VERTEXAI',
  'GOOGLE_CLOUD_PROJECT',
  'GOOGLE_CLOUD_LOCATION',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
]);

/** The provider variables of one engine (exact names, or prefixes ending in `*`). */
export function engineEnvNames(config: ColonyConfig, engine: string): string[] {
  if (engine === 'claude') return [...CLAUDE_PROVIDER_ENV];
  const extra = config.engines;
  if (engine === 'gemini') return [...GEMINI_PROVIDER_ENV, ...(extra.gemini?.api_key_env ? [extra.gemini.api_key_env] : [])];
  if (engine === 'codex' || engine === 'opencode') {
    const sec = extra[engine];
    return sec?.api_key_env ? [sec.api_key_env, 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'] : [];
  }
  const key = config.engines.providers[engine]?.api_key_env;
  return key ? [key] : [];
}
