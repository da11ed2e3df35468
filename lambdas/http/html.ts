/**
 * The few browser-facing pages (links in emails): static HTML, no script, inline style
 * only, forms posting to this origin only.
 */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Renders a page; `body` is trusted markup built with html`` below. */
export function page(title: string, body: string): { kind: 'raw'; status: number; headers: Record<string, string>; body: string } {
  return {
    kind: 'raw',
    status: 200,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': PAGE_CSP },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escape(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1e1f21}button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #6d6e6f;background:#fff;cursor:pointer}</style></head><body><h1>${escape(title)}</h1>${body}</body></html>`,
  };
}

/** Tagged template that escapes every interpolated value. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): string {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? escape(String(values[i])) : ''), '');
}
