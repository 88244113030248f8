/**
 * A host process for the concurrent-claim test (store-pg-hosts.test.ts):
 * joins the database as `host-id`, then for each `go` line on stdin claims
 * every expired host it can and prints the claim as one JSON line.
 * Args: url host-id.
 */
import { createInterface } from 'node:readline';
import { Cluster } from '../../src/store/cluster.js';
import { openStore } from '../../src/store/open.js';

const [url = '', hostId = 'claimer'] = process.argv.slice(2);
const store = openStore(url);
const cluster = Cluster.join(store, { hostId, leaseMs: 60_000, beatMs: null, onFenced: () => undefined }) as Cluster;
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
lines.on('line', (l) => {
  if (l !== 'go') {
    store.close();
    lines.close();
    return;
  }
  process.stdout.write(`${JSON.stringify(cluster.claimExpired())}\n`);
});
