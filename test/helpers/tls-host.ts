/**
 * The host with its LAN app on 127.0.0.1 over TLS (the default with --lan: a
 * self-signed certificate made in the home), rate limits out of the way.
 */
import { startHost, type RunningHost } from '../../src/server/host-server.js';
import type { TestHome } from './admin-host.js';
import { lanConfig } from './user-host.js';

export function startTlsHost(home: TestHome, webRoot: string | null = null): Promise<RunningHost> {
  return startHost({
    paths: home.paths,
    config: lanConfig(),
    adminPort: 0,
    userPort: 0,
    lan: true,
    hostIp: '127.0.0.1',
    concurrency: 1,
    logger: false,
    webRoot,
    lanCode: null,
  });
}
