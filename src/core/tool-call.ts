/** What a person must see to judge an agent's tool call: its command, path or URL. Pure. */
import type { ToolCall } from './engine.js';

const PATH_KEYS = ['file_path', 'notebook_path', 'filePath', 'path'] as const;

export function describeToolCall(tool: string, input: Record<string, unknown>): Pick<ToolCall, 'command' | 'path' | 'url'> {
  const out: Pick<ToolCall, 'command' | 'path' | 'url'> = {};
  if (typeof input.command === 'string') out.command = input.command;
  else if (Array.isArray(input.command)) out.command = input.command.map(String).join(' ');
  for (const k of PATH_KEYS) {
    if (typeof input[k] === 'string') {
      out.path = input[k] as string;
      break;
    }
  }
  if (typeof input.url === 'string') out.url = input.url;
  if (tool === 'Bash' && out.command === undefined) out.command = '';
  return out;
}
