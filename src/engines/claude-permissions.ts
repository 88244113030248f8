/**
 * Claude Code's stdio permission protocol (`--permission-prompt-tool stdio`,
 * Claude Code 2.1.197): each tool use arrives on stdout as a `can_use_tool`
 * control request and waits for our answer on stdin:
 *
 *   → {"type":"control_request","request_id":ID,"request":{"subtype":"can_use_tool","tool_name":"Bash","input":{…}}}
 *   ← {"type":"control_response","response":{"subtype":"success","request_id":ID,
 *       "response":{"behavior":"allow","updatedInput":INPUT}}}            or
 *       "response":{"behavior":"deny","message":REASON}}                  (REASON reaches the model verbatim)
 *
 * The prompt itself is one stream-json user message on stdin; stdin must be
 * closed after the `result` record or the CLI never exits.
 */
import type { EngineEvent, ToolCall, ToolDecision, ToolGate } from '../core/engine.js';
import { describeToolCall } from '../core/tool-call.js';
import type { ControlRequest } from './claude-stream.js';
import { truncate } from './stream-util.js';

export function userMessageLine(prompt: string, sessionId = ''): string {
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content: prompt }, parent_tool_use_id: null, session_id: sessionId })}\n`;
}

export function controlResponseLine(requestId: string, decision: ToolDecision, input: Record<string, unknown>): string {
  const response = decision.behavior === 'allow' ? { behavior: 'allow', updatedInput: input } : { behavior: 'deny', message: decision.message };
  return `${JSON.stringify({ type: 'control_response', response: { subtype: 'success', request_id: requestId, response } })}\n`;
}

function errorResponseLine(requestId: string, error: string): string {
  return `${JSON.stringify({ type: 'control_response', response: { subtype: 'error', request_id: requestId, error } })}\n`;
}

export function toolCallOf(c: ControlRequest): ToolCall {
  const call: ToolCall = { tool: c.tool_name, input: c.input, ...describeToolCall(c.tool_name, c.input) };
  if (c.tool_use_id) call.tool_use_id = c.tool_use_id;
  return call;
}

function shown(call: ToolCall): string {
  const what = call.command ?? call.path ?? call.url ?? JSON.stringify(call.input);
  return `${call.tool} ${truncate(what, 200)}`;
}

/**
 * Answers one control request through the gate. `emit` gets output lines for
 * the task's log; `hold` suspends the silence timeout while the gate decides
 * (an admin may take minutes). A gate that throws denies.
 */
export async function answerControl(
  c: ControlRequest,
  gate: ToolGate,
  io: { signal: AbortSignal; write(line: string): boolean; emit(e: EngineEvent): void; hold(): () => void },
): Promise<void> {
  if (c.subtype !== 'can_use_tool') {
    io.write(errorResponseLine(c.request_id, `colony does not handle control request '${c.subtype}'`));
    return;
  }
  const call = toolCallOf(c);
  const release = io.hold();
  let decision: ToolDecision;
  try {
    decision = await gate(call, io.signal);
  } catch (e) {
    decision = { behavior: 'deny', message: `colony's gateway failed to decide: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    release();
  }
  io.emit({
    type: 'output',
    stream: 'stdout',
    text: decision.behavior === 'allow' ? `[gateway] allowed: ${shown(call)}` : `[gateway] denied: ${shown(call)} — ${decision.message}`,
  });
  io.write(controlResponseLine(c.request_id, decision, c.input));
}
