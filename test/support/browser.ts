// Headless Chromium for page checks: Debian's `chromium` (scripts/install-test-deps.sh installs it) driven by
// playwright-core, which downloads no browser. A test gets a browser that is always closed (its whole process
// group killed when it hangs), pages that record every request the page makes (so a test can assert that
// nothing left the page's origin), pages with scripts off, and screenshots in a kept directory under .test-build/ whose
// path is printed (the artifact to look at). Without chromium the tests skip, except in CI (CI=true).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type BrowserServer, type Page } from "playwright-core";

/** The chromium executable: `$CHROMIUM`, else Debian's. */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** `skip` option of a browser test: a reason when chromium is missing, false when it is there or in CI
 * (where a missing chromium must fail the test, not hide it). */
export const browserSkip: string | false = existsSync(CHROMIUM) || process.env.CI === "true" ? false : `${CHROMIUM} not installed (bash scripts/install-test-deps.sh installs it)`;

const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

/** Default bound of one {@link withBrowser} call: generous, the machine may be loaded. */
export const BROWSER_TIMEOUT_MS = 120_000;

/** How long chromium may take to start (apart from a test's own bound: starting is slow on a loaded machine). */
const LAUNCH_TIMEOUT_MS = 90_000;

/** Runs `fn` with a launched browser and closes it afterwards, whatever happens. When `fn` (or connecting to the
 * started browser) takes longer than `timeoutMs`, the browser's process group is killed (which fails whatever
 * `fn` awaits) and the call rejects with an error naming chromium's pid. */
export async function withBrowser<T>(fn: (browser: Browser) => Promise<T>, timeoutMs = BROWSER_TIMEOUT_MS): Promise<T> {
  const started = await startChromium();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      killGroup(started.pid);
      reject(new Error(`the browser test took longer than ${timeoutMs} ms; chromium (pid ${started.pid}) was killed`));
    }, timeoutMs);
  });
  let browser: Browser | undefined;
  try {
    browser = await Promise.race([chromium.connect(started.server.wsEndpoint(), { timeout: LAUNCH_TIMEOUT_MS }), timedOut]);
    return await Promise.race([fn(browser), timedOut]);
  } finally {
    clearTimeout(timer);
    await started.stop(browser);
  }
}

/** A browser several tests share (each launch costs ~3 s of CPU here), from a `before` hook to its `after`. */
export interface SharedBrowser {
  browser: Browser;
  /** This user is done with it. The last user's close closes it and kills chromium's process group (also when a
   * test left it hung), after a short grace in which another user may take it over. */
  close(): Promise<void>;
}

/** How long the browser outlives its last user: the next file of a batch (test/suites.mjs) starts its own `before`
 * hook at once and takes it over; the last file of a process closes it this much later. */
const SHARED_GRACE_MS = 1_500;

/** A launched browser and how to close it (and kill chromium's process group). */
interface OwnBrowser {
  browser: Browser;
  stop(): Promise<void>;
}

/** The browser of this process that {@link launchBrowser} hands out, how many users hold it, and the pending close
 * once none does. */
interface Shared {
  users: number;
  ready: Promise<OwnBrowser>;
  closing?: NodeJS.Timeout;
}

let shared: Shared | undefined;

/** A browser for {@link SharedBrowser} use: one per process, launched by the first caller, shared by the test files
 * a batch runs in this process (their `before` hooks one after another). A test that hangs on it is ended by its own
 * node:test timeout; `close()` in the `after` hook then kills chromium. A browser that disconnected (killed, crashed)
 * is launched anew for the next caller. */
export async function launchBrowser(): Promise<SharedBrowser> {
  let entry = shared;
  if (!entry) {
    const fresh: Shared = { users: 0, ready: launchOwn() };
    const forget = () => {
      if (shared === fresh) shared = undefined;
    };
    fresh.ready.then((b) => b.browser.on("disconnected", forget), forget);
    shared = entry = fresh;
  }
  clearTimeout(entry.closing);
  entry.users++;
  let own: OwnBrowser;
  try {
    own = await entry.ready;
  } catch (e) {
    entry.users--;
    throw e;
  }
  const held = entry;
  let closed = false;
  return {
    browser: own.browser,
    close: async () => {
      if (closed) return;
      closed = true;
      if (--held.users > 0) return;
      if (shared !== held) return own.stop();
      // the last user for now: closed after the grace unless another takes it over (launchBrowser clears the timer)
      held.closing = setTimeout(() => {
        if (shared === held) shared = undefined;
        void own.stop();
      }, SHARED_GRACE_MS);
    },
  };
}

async function launchOwn(): Promise<OwnBrowser> {
  const started = await startChromium();
  let browser: Browser;
  try {
    browser = await chromium.connect(started.server.wsEndpoint(), { timeout: LAUNCH_TIMEOUT_MS });
  } catch (e) {
    await started.stop(undefined);
    throw e;
  }
  return { browser, stop: () => started.stop(browser) };
}

// Starts chromium as a browser server (rather than launch(): it hands out chromium's process, so a hung browser can
// be killed), with its own temp files (its singleton socket directory) in a directory removed by stop(), not /tmp.
async function startChromium(): Promise<{ server: BrowserServer; pid: number | undefined; stop(browser: Browser | undefined): Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: CI must install it (scripts/install-test-deps.sh)`);
  const tmp = mkdtempSync(join(tmpdir(), "amphi-browser-"));
  let server: BrowserServer;
  try {
    server = await chromium.launchServer({ executablePath: CHROMIUM, args: ARGS, timeout: LAUNCH_TIMEOUT_MS, env: { ...process.env, TMPDIR: tmp } });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const pid = server.process().pid;
  return {
    server,
    pid,
    stop: async (browser) => {
      await browser?.close().catch(() => undefined);
      await server.close().catch(() => undefined);
      killGroup(pid);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

// playwright starts chromium as the leader of its own process group: killing the group also ends its helpers.
function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

/** One request the page made (or tried to: a request a CSP blocked shows up as a console error instead). */
export interface RecordedRequest {
  url: string;
  /** `new URL(url).origin`: `"null"` for file: and data: URLs. */
  origin: string;
  resourceType: string;
}

/** A page opened by {@link openPage}, with what it did. */
export interface RecordedPage {
  page: Page;
  context: BrowserContext;
  /** Every request, in order, including the page itself. */
  requests: RecordedRequest[];
  /** Console messages of type error or warning (e.g. `Refused to load … because it violates … CSP`). */
  consoleErrors: string[];
  /** Requests that left the page's origin; see {@link offOrigin}. */
  offOrigin(): RecordedRequest[];
}

/** Options of {@link openPage}. */
export interface PageOptions {
  /** Run the page's scripts (default true). */
  javaScript?: boolean;
  viewport?: { width: number; height: number };
}

/** Opens `url` in a new context of `browser` (scripts on or off), recording every request, web socket and
 * console error, and waits for the load event. Close the context when done (`context.close()`): a browser from
 * {@link launchBrowser} outlives the test file, shared with the next files of its batch. */
export async function openPage(browser: Browser, url: string, opts: PageOptions = {}): Promise<RecordedPage> {
  const context = await browser.newContext({ javaScriptEnabled: opts.javaScript ?? true, viewport: opts.viewport ?? { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requests: RecordedRequest[] = [];
  const consoleErrors: string[] = [];
  page.on("request", (r) => requests.push({ url: r.url(), origin: originOf(r.url()), resourceType: r.resourceType() }));
  page.on("websocket", (w) => requests.push({ url: w.url(), origin: originOf(w.url()), resourceType: "websocket" }));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") consoleErrors.push(m.text());
  });
  await page.goto(url, { waitUntil: "load" });
  return { page, context, requests, consoleErrors, offOrigin: () => offOrigin(url, requests) };
}

/** The requests that left `pageUrl`'s origin. Inline URLs (data:, blob:, about:) load nothing and count as
 * inside. A file: page has no origin to share (`"null"`): any request other than the file itself counts. */
export function offOrigin(pageUrl: string, requests: readonly RecordedRequest[]): RecordedRequest[] {
  const page = new URL(pageUrl);
  return requests.filter((r) => {
    const u = new URL(r.url);
    if (["data:", "blob:", "about:"].includes(u.protocol)) return false;
    if (page.protocol === "file:") return u.href.replace(/#.*$/, "") !== page.href.replace(/#.*$/, "");
    return u.origin !== page.origin;
  });
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "null";
  }
}

/** The directory of a test's artifacts (screenshots, the page it opened): `.test-build/artifacts/<name>/` in the
 * checkout (gitignored), emptied first, kept after the test — one per name, so runs do not pile up temp dirs. */
export function artifactDir(name: string): string {
  const dir = join(new URL("../..", import.meta.url).pathname, ".test-build", "artifacts", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Saves a full-page PNG of `page` as `<dir>/<name>.png`, prints where, and returns the path. */
export async function screenshot(page: Page, dir: string, name: string): Promise<string> {
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot (kept): ${path}`);
  return path;
}
