// Opens a built webview bundle (dist/webviews/<bundle>.js) in headless Debian chromium exactly as VS Code
// renders it: the same HTML shell and Content-Security-Policy from client/src/panels/html.ts, served from
// a fake origin through page.route (init scripts do not run for page.setContent). `acquireVsCodeApi` is
// stubbed by an init script that behaves like VS Code's: callable once, postMessage/getState/setState.
//
//   const browser = await launchBrowser();            // once per test file; browser.close() after
//   const view = await openWebview(browser, 'dashboard', { state });
//   await view.send({ type: 'state', ... });           // a host -> webview message
//   const msg = await view.waitForPosted((m) => m.type === 'cancel');
//   view.posted                                        // every webview -> host message so far
//   await view.savedState()                            // what the page passed to setState
//   await view.cspViolations()                         // securitypolicyviolation events seen
//   await view.close();
//
// Run `npm run build` first: the harness serves what esbuild produced. Functions passed to page.evaluate
// run in the page after tsx compiled them: keep them to plain arrows without named inner functions
// (tsx wraps those in a `__name` helper the page does not have), or pass a string.
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderWebviewHtml } from '../../client/src/panels/html';
import { CHROMIUM, needChromium } from '../needs';

const ORIGIN = 'http://webview.test';
const DIST = join(__dirname, '..', '..', 'dist', 'webviews');

export type Bundle = 'hyperparameters' | 'dashboard' | 'playground' | 'evaluation';

export interface OpenedWebview {
  page: Page;
  /** Messages the page posted to the host, oldest first (structured clones). */
  readonly posted: unknown[];
  /** Posts a host -> webview message and resolves once the page has handled it. */
  send(message: unknown): Promise<void>;
  waitForPosted(
    predicate: (message: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  savedState(): Promise<unknown>;
  cspViolations(): Promise<string[]>;
  /** Errors thrown in the page (uncaught), as text. */
  readonly pageErrors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  needChromium();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
  });
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.ttf': 'font/ttf',
  '.map': 'application/json',
};

export async function openWebview(
  browser: Browser,
  bundle: Bundle,
  options: { state?: unknown; width?: number; height?: number } = {},
): Promise<OpenedWebview> {
  const script = join(DIST, `${bundle}.js`);
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`);
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1200, height: options.height ?? 800 },
  });
  const page = await context.newPage();
  const posted: unknown[] = [];
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  await page.exposeFunction('__harnessPost', (message: unknown) => {
    posted.push(message);
  });
  // A string, not a function: tsx would wrap a function's inner closures in its `__name` helper, which
  // does not exist in the page.
  await page.addInitScript(`(() => {
    const initialState = ${JSON.stringify(options.state ?? null)};
    window.__state = initialState;
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
    });
    let acquired = false;
    window.acquireVsCodeApi = () => {
      if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
      acquired = true;
      return {
        postMessage: (m) => window.__harnessPost(JSON.parse(JSON.stringify(m))),
        getState: () => window.__state,
        setState: (s) => {
          window.__state = JSON.parse(JSON.stringify(s));
          return s;
        },
      };
    };
  })();`);
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/index.html') {
      const html = renderWebviewHtml({
        cspSource: ORIGIN,
        nonce: 'harness-nonce-' + Math.random().toString(36).slice(2),
        title: bundle,
        scriptUri: `${ORIGIN}/${bundle}.js`,
        styleUris: [`${ORIGIN}/codicons/codicon.css`, `${ORIGIN}/${bundle}.css`],
      });
      return route.fulfill({ status: 200, contentType: 'text/html', body: html });
    }
    const file = normalize(join(DIST, decodeURIComponent(url.pathname)));
    if (!file.startsWith(DIST) || !existsSync(file)) return route.fulfill({ status: 404, body: '' });
    return route.fulfill({
      status: 200,
      contentType: TYPES[extname(file)] ?? 'application/octet-stream',
      body: readFileSync(file),
    });
  });
  await page.goto(`${ORIGIN}/index.html`);
  return {
    page,
    posted,
    pageErrors,
    // VS Code delivers host messages as `message` events on the page's window. A marker posted right
    // after the message is dispatched only after it, so this returns once the page has handled it.
    send: async (message) => {
      await page.evaluate(`new Promise((resolve) => {
        const marker = 'delivered-' + Math.random();
        const onMessage = (e) => {
          if (e.data !== marker) return;
          removeEventListener('message', onMessage);
          resolve();
        };
        addEventListener('message', onMessage);
        postMessage(${JSON.stringify(message)}, '*');
        postMessage(marker, '*');
      })`);
    },
    waitForPosted: async (predicate, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = posted.find(
          (m) => typeof m === 'object' && m !== null && predicate(m as Record<string, unknown>),
        ) as Record<string, unknown> | undefined;
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching message posted; got ${JSON.stringify(posted)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    savedState: () => page.evaluate('window.__state'),
    cspViolations: () => page.evaluate('window.__csp ?? []') as Promise<string[]>,
    close: () => context.close(),
  };
}
