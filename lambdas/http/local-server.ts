/**
 * The local HTTP server: turns Node requests into API Gateway REST proxy events (as
 * API Gateway would build them, with the socket's address as sourceIp), calls the same
 * handler the Lambda runs, and writes the result. Signed local blob URLs are served
 * here too.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { ApiHandler } from './api.js';
import { LOCAL_BLOBS_PATH, type LocalBlobs } from '../adapters/blobs/local-blobs.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { logger } from '../shared/logger.js';

export interface LocalServerOptions {
  handler: ApiHandler;
  blobs: LocalBlobs;
  maxBodyBytes: number;
}

/** IPv4 clients appear as ::ffff:a.b.c.d on a dual-stack socket. */
export function normalizeIp(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** requestContext.identity as API Gateway fills it for an unauthenticated caller (IAM fields null). */
export function callerIdentity(sourceIp: string, userAgent: string | null): APIGatewayProxyEvent['requestContext']['identity'] {
  return {
    sourceIp,
    userAgent,
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    user: null,
    userArn: null,
  };
}

export function toProxyEvent(req: IncomingMessage, body: Buffer, requestId: string): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [name, value] = [req.rawHeaders[i]!, req.rawHeaders[i + 1]!];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const hasQuery = Object.keys(query).length > 0;
  const isText = /^(application\/([a-z0-9.+-]+\+)?json|text\/)/i.test(req.headers['content-type'] ?? '');
  const sourceIp = normalizeIp(req.socket.remoteAddress);
  return {
    resource: '/{proxy+}',
    path: url.pathname,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: { proxy: url.pathname.replace(/^\//, '') },
    stageVariables: null,
    body: body.length ? (isText ? body.toString('utf8') : body.toString('base64')) : null,
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: null,
      httpMethod: req.method ?? 'GET',
      path: url.pathname,
      protocol: `HTTP/${req.httpVersion}`,
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: '/{proxy+}',
      stage: 'local',
      identity: callerIdentity(sourceIp, req.headers['user-agent'] ?? null),
    },
  };
}

function sendJsonError(res: ServerResponse, status: number, message: string, requestId: string) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'X-Request-Id': requestId, Connection: 'close' });
  res.end(JSON.stringify({ errors: [{ message }] }));
}

/** The request listener of the local server (attach it to a listening http.Server). */
export function createRequestListener(options: LocalServerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const requestId = randomUUID();
    try {
      if ((req.url ?? '').startsWith(LOCAL_BLOBS_PATH)) {
        const answer = await options.blobs.handleSignedRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers as Record<string, string>, body: req });
        res.writeHead(answer.status, { ...SECURITY_HEADERS, ...answer.headers, 'X-Request-Id': requestId });
        if (answer.body instanceof Readable) answer.body.pipe(res);
        else res.end(answer.body ?? '');
        return;
      }
      let body: Buffer;
      try {
        body = await readBody(req, options.maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLarge) return sendJsonError(res, 413, `Request body is larger than ${options.maxBodyBytes} bytes`, requestId);
        throw error;
      }
      const result = await options.handler(toProxyEvent(req, body, requestId));
      const headers: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
      for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String);
      res.writeHead(result.statusCode, headers);
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    } catch (error) {
      logger.error('local server failure', { error: error as Error, request_id: requestId });
      if (!res.headersSent) sendJsonError(res, 500, 'Server Error', requestId);
      else res.destroy();
    }
  };
}

/** An http.Server with the timeouts we want, not yet listening and without a listener. */
export function createLocalHttpServer(): Server {
  const server = createServer();
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  return server;
}
