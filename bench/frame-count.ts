/**
 * Counts the protocol frames a process sends over `ws` (the benchmark's view of
 * batching): per message type, and the items carried by BATCH frames. Patches
 * ws's send in this thread only; bench code, never imported by src/.
 */
import WebSocket from 'ws';

export interface FrameCounts {
  frames: Record<string, number>;
  batch_items: Record<string, number>;
}

export function countFrames(): () => FrameCounts {
  const counts: FrameCounts = { frames: {}, batch_items: {} };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
    if (typeof data === 'string' && data.startsWith('{')) {
      const m = JSON.parse(data) as { type?: string; items?: Array<{ type: string }> };
      const t = m.type ?? '?';
      counts.frames[t] = (counts.frames[t] ?? 0) + 1;
      for (const i of m.items ?? []) counts.batch_items[i.type] = (counts.batch_items[i.type] ?? 0) + 1;
    }
    return (send as (...a: unknown[]) => void).call(this, data, ...rest);
  } as typeof send;
  return () => {
    WebSocket.prototype.send = send;
    return counts;
  };
}
