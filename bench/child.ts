/**
 * Entry of the benchmark's child processes (bundled by bench/spawn.ts): `child.mjs <role>
 * <json args>`. One-shot roles answer once over IPC ({ok, result} or {ok: false, error})
 * and exit; the API server answers a ready message, then one answer per request. Roles
 * are imported on demand, so a child loads only the code (and memory) its role needs.
 */
import type { ServerArgs } from './api.js';

const [role, json] = process.argv.slice(2);
const args = JSON.parse(json ?? '{}');

const send = (message: unknown) => new Promise<void>((done) => process.send!(message as object, () => done()));
const failure = (error: unknown) => ({ ok: false, error: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error) });

async function once(run: () => Promise<unknown>) {
  try {
    await send({ ok: true, result: await run() });
    process.exit(0);
  } catch (error) {
    await send(failure(error));
    process.exit(1);
  }
}

switch (role) {
  case 'generate':
    await once(async () => (await import('./export.js')).generate(args));
    break;
  case 'export':
    await once(async () => (await import('./export.js')).exportRun(args));
    break;
  case 'engine':
    await once(async () => (await import('./export.js')).engineRun(args));
    break;
  case 'engine-document':
    await once(async () => (await import('./engine-document.js')).engineDocumentRun(args));
    break;
  case 'api-server': {
    const { apiServer } = await import('./api.js');
    await apiServer(args as ServerArgs, {
      send: (message) => void send(message),
      onMessage: (handler) =>
        process.on('message', (message) => {
          handler(message).then(
            (result) => send({ ok: true, result }),
            (error: unknown) => send(failure(error)),
          );
        }),
    });
    break;
  }
  default:
    await send(failure(new Error(`unknown role ${role}`)));
    process.exit(2);
}
