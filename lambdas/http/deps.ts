/** The ports bundle lives with the domain; the HTTP layer re-exports it. */
export type { AppDeps, HttpConfig } from '../domain/deps.js';
