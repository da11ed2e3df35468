/**
 * The local server for the load test, in a process of its own so its memory is measured
 * alone (the test's client, jest and the response buffers are elsewhere). Started with
 * --expose-gc and an IPC channel: it sends {ready: baseUrl}, and answers {sample: n} with
 * {memory: process.memoryUsage() after a full collection, n}.
 */
import { startLocal } from '../../lambdas/local/runtime.js';
import { logger } from '../../lambdas/shared/logger.js';
import { CHEAP_AUTH } from '../support/identity.js';

async function main() {
  logger.setLogLevel('ERROR');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc || !process.send) throw new Error('start with --expose-gc and an IPC channel');
  const runtime = await startLocal({ dataDir: process.env.LOCAL_DATA_DIR!, port: 0, auth: CHEAP_AUTH });
  process.on('message', (message: { sample?: number; stop?: boolean }) => {
    if (message.sample !== undefined) {
      gc();
      gc();
      process.send!({ memory: process.memoryUsage(), n: message.sample });
    }
    if (message.stop) void runtime.close().then(() => process.exit(0));
  });
  process.send({ ready: runtime.baseUrl });
}

main().catch((error: unknown) => {
  process.stderr.write(`load server failed: ${(error as Error).stack}\n`);
  process.exit(1);
});
