#!/usr/bin/env node
// Headless-browser checker for a static site folder (see README.md in this folder).
//
//   node tests/browser/check-site.mjs SITE_DIR SHOTS_DIR [PAGE ...]
//
// Opens every *.html file under SITE_DIR from disk (file:// URLs) in Chromium and reports
// console errors, uncaught exceptions, network requests that leave the disk, failed
// requests, broken internal links, unsafe link schemes, inline event handlers and scripts
// loaded from outside the site folder. Each PAGE (a path relative to SITE_DIR) is also
// screenshotted at desktop and phone widths into SHOTS_DIR and checked for horizontal
// overflow on the phone.
//
// stdout: one JSON object {"pages", "links_checked", "screenshots", "problems"}.
// Exit codes: 0 no problems, 1 problems found, 2 usage / setup / launch error.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const USAGE = 'usage: node tests/browser/check-site.mjs SITE_DIR SHOTS_DIR [PAGE ...]';
const CONCURRENCY = 2; // the CI machine has 2 cores
const NAV_TIMEOUT_MS = Number(process.env.CHECK_SITE_NAV_TIMEOUT_MS || 15000);
const TOTAL_TIMEOUT_MS = Number(process.env.CHECK_SITE_TIMEOUT_MS || 600000);
const SETTLE_MS = Number(process.env.CHECK_SITE_SETTLE_MS || 20);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const LOCAL_SCHEMES = new Set(['file:', 'data:', 'blob:', 'about:']);
const EXTERNAL_LINK_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

function fail(message) {
  process.stderr.write(`check-site: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- arguments

const argv = process.argv.slice(2);
if (argv.includes('-h') || argv.includes('--help')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (argv.length < 2) fail(USAGE);
const [siteArg, shotsArg, ...pageArgs] = argv;

let siteRoot;
try {
  siteRoot = fs.realpathSync(path.resolve(siteArg));
  if (!fs.statSync(siteRoot).isDirectory()) fail(`SITE_DIR is not a directory: ${siteArg}`);
} catch {
  fail(`SITE_DIR does not exist: ${siteArg}`);
}
const shotsDir = path.resolve(shotsArg);

const shotPages = [];
for (const arg of pageArgs) {
  const rel = path.posix.normalize(arg.split(path.sep).join('/')).replace(/^\/+/, '');
  if (rel === '.' || rel.startsWith('../') || rel === '..') fail(`PAGE must be inside SITE_DIR: ${arg}`);
  if (!shotPages.includes(rel)) shotPages.push(rel);
}

// ------------------------------------------------------------------ helpers

function isInside(root, p) {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function relOf(absPath) {
  return path.relative(siteRoot, absPath).split(path.sep).join('/');
}

// Short, readable form of a URL for messages: site-relative for files in the site.
function show(url) {
  try {
    const u = new URL(url);
    if (u.protocol === 'file:') {
      const p = fileURLToPath(u);
      if (isInside(siteRoot, p)) return relOf(p) + u.search + u.hash;
      return p + u.search + u.hash;
    }
    if (u.protocol === 'data:') return url.slice(0, 40) + (url.length > 40 ? '…' : '');
  } catch {
    /* fall through */
  }
  return url;
}

function clip(text, n = 500) {
  const s = String(text).replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function listHtmlFiles(root) {
  const out = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p); // symlinked directories are not followed (no loops)
      else if (/\.html$/i.test(e.name)) {
        if (e.isFile()) out.push(p);
        else if (e.isSymbolicLink()) {
          try {
            if (fs.statSync(p).isFile()) out.push(p);
          } catch {
            /* dangling symlink: ignored */
          }
        }
      }
    }
  };
  walk(root);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (m, e) => {
    const k = e.toLowerCase();
    if (k === 'amp') return '&';
    if (k === 'lt') return '<';
    if (k === 'gt') return '>';
    if (k === 'quot') return '"';
    if (k === 'apos') return "'";
    const code = k.startsWith('#x') ? parseInt(k.slice(2), 16) : parseInt(k.slice(1), 10);
    try {
      return String.fromCodePoint(code);
    } catch {
      return m;
    }
  });
}

// Fragment targets of an HTML file on disk: every id="..." and <a name="...">, found with
// a simple regex (no JS runs, so ids added by scripts are not seen).
const anchorCache = new Map();
function anchorsOf(file) {
  if (anchorCache.has(file)) return anchorCache.get(file);
  const ids = new Set();
  let html = '';
  try {
    html = fs.readFileSync(file, 'utf8');
  } catch {
    /* unreadable: no anchors */
  }
  html = html.replace(/<!--[\s\S]*?-->/g, '');
  const tagRe = /<([a-zA-Z][\w:-]*)(\s[^>]*)?>/g;
  const attrRe = /(?:^|\s)(id|name)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/gi;
  for (const t of html.matchAll(tagRe)) {
    const tag = t[1].toLowerCase();
    const attrs = t[2] || '';
    for (const a of attrs.matchAll(attrRe)) {
      const name = a[1].toLowerCase();
      if (name === 'name' && tag !== 'a') continue;
      ids.add(decodeEntities(a[2] ?? a[3] ?? a[4] ?? ''));
    }
  }
  anchorCache.set(file, ids);
  return ids;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function shotName(rel, kind) {
  return `${rel.split('/').join('__')}-${kind}.png`;
}

// ------------------------------------------------------------------ results

const problemsByPage = new Map(); // page -> [problem, ...] (insertion order, deduplicated)
function addProblem(page, problem) {
  if (!problemsByPage.has(page)) problemsByPage.set(page, []);
  const list = problemsByPage.get(page);
  if (!list.includes(problem)) list.push(problem);
}
let linksChecked = 0;
const screenshots = [];

// Checks every <a href> collected from a page. `links` holds {raw, resolved}.
function checkLinks(pageRel, pageFile, links, liveIds) {
  for (const { raw, resolved } of links) {
    let u;
    try {
      u = new URL(resolved);
    } catch {
      addProblem(pageRel, `invalid link href="${raw}"`);
      continue;
    }
    if (EXTERNAL_LINK_SCHEMES.has(u.protocol)) continue;
    if (u.protocol !== 'file:') {
      addProblem(pageRel, `link with forbidden scheme ${u.protocol} href="${clip(raw, 120)}"`);
      continue;
    }
    linksChecked++;
    let target;
    try {
      target = fileURLToPath(u.href.split(/[?#]/)[0]);
    } catch {
      addProblem(pageRel, `broken link href="${raw}" (not a local file path)`);
      continue;
    }
    if (!isInside(siteRoot, target)) {
      addProblem(pageRel, `link leaves the site folder href="${raw}" -> ${target}`);
      continue;
    }
    let st;
    try {
      st = fs.statSync(target);
    } catch {
      addProblem(pageRel, `broken link href="${raw}" (missing file ${relOf(target)})`);
      continue;
    }
    if (st.isDirectory()) {
      addProblem(
        pageRel,
        `broken link href="${raw}" (points to directory ${relOf(target) || '.'}/; from disk no index.html is served, link the file)`,
      );
      continue;
    }
    const frag = u.hash.slice(1);
    if (!frag || !/\.html?$/i.test(target)) continue;
    let id;
    try {
      id = decodeURIComponent(frag);
    } catch {
      id = frag;
    }
    if (id.toLowerCase() === 'top') continue; // HTML: "#top" scrolls to the top
    const ids = anchorsOf(target);
    if (ids.has(id)) continue;
    if (target === pageFile && liveIds.includes(id)) continue;
    addProblem(pageRel, `broken link href="${raw}" (no id="${id}" in ${relOf(target)})`);
  }
}

function checkScripts(pageRel, scripts) {
  for (const { raw, resolved } of scripts) {
    let u;
    try {
      u = new URL(resolved);
    } catch {
      addProblem(pageRel, `script with invalid src="${raw}"`);
      continue;
    }
    if (u.protocol === 'file:') {
      let p = null;
      try {
        p = fileURLToPath(u.href.split(/[?#]/)[0]);
      } catch {
        /* host in file URL etc. */
      }
      if (p && isInside(siteRoot, p)) continue;
    } else if (u.protocol === 'data:' || u.protocol === 'blob:') {
      continue;
    }
    addProblem(pageRel, `script loaded from outside the site folder src="${raw}"`);
  }
}

// Runs in the page: everything the static checks need, in one round trip.
function collectInPage() {
  const links = [...document.querySelectorAll('a[href]')].map((a) => ({
    raw: a.getAttribute('href'),
    // SVG <a> elements have no string .href: resolve against the document
    resolved: new URL(a.getAttribute('href'), document.baseURI).href,
  }));
  const scripts = [...document.querySelectorAll('script[src]')].map((s) => ({
    raw: s.getAttribute('src'),
    resolved: s.src,
  }));
  const handlers = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.toLowerCase().startsWith('on')) {
        let desc = el.tagName.toLowerCase();
        if (el.id) desc += `#${el.id}`;
        handlers.push(`<${desc} ${attr.name}="${attr.value.slice(0, 60)}">`);
      }
    }
  }
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  return { links, scripts, handlers, ids };
}

// Runs in the page at phone width. With isMobile, Chromium zooms out to fit wide content,
// so window.innerWidth grows with the overflow; compare against the phone's width instead.
function measureOverflow(phoneWidth) {
  const vw = Math.min(window.innerWidth, phoneWidth);
  const sw = document.documentElement.scrollWidth;
  const meta = document.querySelector('meta[name="viewport" i]');
  const responsive = !!meta && /width\s*=\s*device-width/i.test(meta.content || '');
  const culprits = [];
  if (sw > vw + 1) {
    for (const el of document.body ? document.body.querySelectorAll('*') : []) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > vw + 1) {
        let d = el.tagName.toLowerCase();
        if (el.id) d += `#${el.id}`;
        if (typeof el.className === 'string' && el.className.trim())
          d += `.${el.className.trim().split(/\s+/).join('.')}`;
        culprits.push(`${d} (right edge ${Math.round(r.right)}px)`);
        if (culprits.length >= 3) break;
      }
    }
  }
  return { vw, sw, culprits, responsive };
}

// -------------------------------------------------------------- the browser

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(
    `cannot load the npm package playwright-core (${clip(e.message, 200)}); ` +
      `run "npm ci" in ${path.dirname(fileURLToPath(import.meta.url))}`,
  );
}

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  fail(
    `Chromium not found at ${executablePath} (install Debian's chromium package, ` +
      `or set CHROMIUM=/path/to/chromium)`,
  );
}

const started = Date.now();
let browser;
try {
  browser = await chromium.launch({ executablePath, args: LAUNCH_ARGS, timeout: 60000 });
} catch (e) {
  fail(`cannot launch Chromium at ${executablePath}: ${clip(e.message, 800)}`);
}

// Last-resort guard: never hang forever (e.g. a page stuck in an endless loop).
const watchdog = setTimeout(() => {
  process.stderr.write(`check-site: gave up after ${TOTAL_TIMEOUT_MS} ms\n`);
  browser.close().catch(() => {}).finally(() => process.exit(2));
  setTimeout(() => process.exit(2), 5000).unref();
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

// Forbids every request that would leave the disk.
async function blockNetwork(context) {
  await context.route(
    (url) => !LOCAL_SCHEMES.has(url.protocol),
    (route) => route.abort('blockedbyclient').catch(() => {}),
  );
}

// A reusable tab whose events are attributed to the page currently loaded in it.
async function newTab(context, label) {
  const page = await context.newPage();
  page.setDefaultTimeout(NAV_TIMEOUT_MS);
  const tab = { page, current: null, blocked: new Set() };
  const report = (problem) => {
    if (!tab.current) return;
    // A second load (phone) repeats what the desktop pass already saw: report it once.
    if (label && (problemsByPage.get(tab.current) || []).includes(problem)) return;
    addProblem(tab.current, label ? `[${label}] ${problem}` : problem);
  };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Chromium also logs failed loads to the console; they are reported once, as
    // external or failed requests, below.
    if (/^Failed to load resource: net::ERR_/.test(text)) return;
    const loc = msg.location();
    const where = loc && loc.url ? ` (${show(loc.url)}:${loc.lineNumber + 1})` : '';
    report(`console error: ${clip(text)}${where}`);
  });
  page.on('pageerror', (err) => report(`uncaught exception: ${clip(err.message || err)}`));
  page.on('request', (req) => {
    const url = req.url();
    let protocol;
    try {
      protocol = new URL(url).protocol;
    } catch {
      protocol = '?';
    }
    if (!LOCAL_SCHEMES.has(protocol)) {
      tab.blocked.add(url);
      report(`external request (blocked): ${req.resourceType()} ${clip(url, 300)}`);
    }
  });
  page.on('requestfailed', (req) => {
    const url = req.url();
    if (tab.blocked.has(url)) return; // already reported as an external request
    const why = req.failure() ? req.failure().errorText : 'failed';
    report(`request failed: ${req.resourceType()} ${show(url)} (${why})`);
  });
  page.on('dialog', (d) => {
    report(`dialog opened: ${d.type()} "${clip(d.message(), 100)}"`);
    d.dismiss().catch(() => {});
  });
  page.on('popup', (p) => {
    report(`popup window opened: ${show(p.url())}`);
    p.close().catch(() => {});
  });
  page.on('crash', () => report('page crashed'));
  return tab;
}

// Loads `file` in `tab`, then waits a moment so late errors are seen. Returns true on load.
async function load(tab, rel, file) {
  tab.current = rel;
  tab.blocked = new Set();
  try {
    await tab.page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    await withTimeout(
      tab.page.evaluate(
        (ms) => new Promise((r) => requestAnimationFrame(() => setTimeout(r, ms))),
        SETTLE_MS,
      ),
      NAV_TIMEOUT_MS,
      'settling',
    );
    return true;
  } catch (e) {
    addProblem(rel, `page did not load: ${clip(e.message.split('\n')[0], 300)}`);
    tab.wedged = true; // maybe stuck in a script: the pool gives the next page a fresh tab
    return false;
  }
}

const itemName = (item) => (path.isAbsolute(item) ? relOf(item) : item);

// Runs `work(tab, item)` over `items` with CONCURRENCY tabs from `context`.
async function pool(context, label, items, work) {
  let next = 0;
  const worker = async () => {
    let tab = await newTab(context, label);
    while (next < items.length) {
      const item = items[next++];
      try {
        await work(tab, item);
      } catch (e) {
        addProblem(tab.current || itemName(item), `checker error: ${clip(e.message, 300)}`);
        tab.wedged = true;
      }
      if (tab.wedged) {
        // The tab may be stuck (endless loop, crash): replace it.
        tab.current = null;
        await withTimeout(tab.page.close(), 5000, 'closing tab').catch(() => {});
        tab = await newTab(context, label);
      }
    }
    tab.current = null;
    await withTimeout(tab.page.close(), 5000, 'closing tab').catch(() => {});
  };
  const n = Math.min(CONCURRENCY, items.length);
  await Promise.all(Array.from({ length: n }, worker));
}

async function screenshot(tab, rel, kind) {
  const out = path.join(shotsDir, shotName(rel, kind));
  await withTimeout(
    tab.page.screenshot({ path: out, fullPage: true, animations: 'disabled', timeout: NAV_TIMEOUT_MS }),
    NAV_TIMEOUT_MS + 5000,
    `${kind} screenshot`,
  );
  screenshots.push(path.join(shotsArg, shotName(rel, kind))); // as the caller spelled SHOTS_DIR
}

let exitCode = 2;
let htmlFiles = [];
try {
  htmlFiles = listHtmlFiles(siteRoot);
  const shotSet = new Set(shotPages);
  if (shotPages.length) fs.mkdirSync(shotsDir, { recursive: true });

  const missingShots = [];
  for (const rel of shotPages) {
    const file = path.join(siteRoot, ...rel.split('/'));
    let ok = false;
    try {
      ok = fs.statSync(file).isFile();
    } catch {
      /* missing */
    }
    if (!ok) {
      addProblem(rel, 'page given for screenshots does not exist in SITE_DIR');
      missingShots.push(rel);
    }
  }

  // Pass 1 (desktop): every page, plus the desktop screenshots.
  const desktop = await browser.newContext({ viewport: DESKTOP, deviceScaleFactor: 1 });
  await blockNetwork(desktop);
  const desktopShotsDone = new Set();
  await pool(desktop, '', htmlFiles, async (tab, file) => {
    const rel = relOf(file);
    if (!(await load(tab, rel, file))) return;
    const found = await withTimeout(tab.page.evaluate(collectInPage), NAV_TIMEOUT_MS, 'collecting');
    for (const h of found.handlers) addProblem(rel, `inline event handler ${h}`);
    checkScripts(rel, found.scripts);
    checkLinks(rel, file, found.links, found.ids);
    if (shotSet.has(rel)) {
      await screenshot(tab, rel, 'desktop');
      desktopShotsDone.add(rel);
    }
  });
  // Screenshot pages that are not *.html files are loaded for their desktop shot here.
  const extraDesktop = shotPages.filter((r) => !desktopShotsDone.has(r) && !missingShots.includes(r));
  if (extraDesktop.length) {
    await pool(desktop, '', extraDesktop, async (tab, rel) => {
      if (await load(tab, rel, path.join(siteRoot, ...rel.split('/')))) await screenshot(tab, rel, 'desktop');
    });
  }
  await desktop.close();

  // Pass 2 (phone): screenshot pages only, plus the horizontal-overflow check.
  const phoneItems = shotPages.filter((r) => !missingShots.includes(r));
  if (phoneItems.length) {
    const phone = await browser.newContext({
      viewport: PHONE,
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    await blockNetwork(phone);
    await pool(phone, 'phone', phoneItems, async (tab, rel) => {
      if (!(await load(tab, rel, path.join(siteRoot, ...rel.split('/'))))) return;
      const m = await withTimeout(tab.page.evaluate(measureOverflow, PHONE.width), NAV_TIMEOUT_MS, 'measuring');
      if (!m.responsive) {
        addProblem(
          rel,
          `[phone] no <meta name="viewport" content="width=device-width, initial-scale=1">: ` +
            `phones lay the page out 980px wide and shrink it (scrollWidth ${m.sw}px)`,
        );
      } else if (m.sw > m.vw + 1) {
        addProblem(
          rel,
          `[phone] horizontal overflow: scrollWidth ${m.sw}px > viewport ${m.vw}px` +
            (m.culprits.length ? `; widest: ${m.culprits.join(', ')}` : ''),
        );
      }
      await screenshot(tab, rel, 'phone');
    });
    await phone.close();
  }

  exitCode = problemsByPage.size ? 1 : 0;
} catch (e) {
  process.stderr.write(`check-site: ${e.stack || e}\n`);
  exitCode = 2;
} finally {
  clearTimeout(watchdog);
  await withTimeout(browser.close(), 15000, 'closing the browser').catch(() => {});
}

const problems = [];
const pageOrder = [...problemsByPage.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
for (const page of pageOrder) for (const problem of problemsByPage.get(page)) problems.push({ page, problem });
screenshots.sort();

const result = { pages: htmlFiles.length, links_checked: linksChecked, screenshots, problems };
process.stderr.write(
  `check-site: ${htmlFiles.length} pages, ${linksChecked} links, ${screenshots.length} screenshots, ` +
    `${problems.length} problems in ${Date.now() - started} ms\n`,
);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`, () => process.exit(exitCode));
