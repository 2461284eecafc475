// End-to-end test of the console at /app in headless Chromium, against the
// real docent binary: a new user signs up, creates a bot and changes its
// settings (previewing the widget with its theme), feeds it a text and files, a PDF among them (drag-and-drop
// uploads with per-file progress), crawls a local site and watches its
// progress, asks in the playground, finds the conversation, the usage, the
// team and the audit log; a viewer of the same tenant can read
// everything and change nothing; signing out ends the session.
//
// Env: DOCENT_BIN (see support.mjs); CONSOLE_SCREENSHOTS, a directory to
// save pictures of the main pages in (the docs use them).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { BIN, CHROMIUM, CHROMIUM_ARGS, freePort, repoRoot, startDocent, until } from './support.mjs';

const SHOTS = process.env.CONSOLE_SCREENSHOTS ? path.resolve(process.cwd(), process.env.CONSOLE_SCREENSHOTS) : null;
// A real two-page PDF of the ingestion tests' fixtures.
const PDF = path.join(repoRoot, 'crates/docent-ingest/tests/fixtures/two_pages.pdf');
const OWNER = { org: 'Acme Outdoor', email: 'owner@acme.example', password: 'correct horse battery' };
const VIEWER = { email: 'viewer@acme.example', password: 'staple battery horse' };

/**
 * Text on the page whose contrast with its background is under WCAG AA
 * (4.5:1; 3:1 for large text), as Chromium computed the styles. Disabled
 * controls are exempt, as WCAG says.
 */
async function lowContrast(page) {
  return page.evaluate(() => {
    const rgb = (value) => {
      const m = value.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(',').map((x) => parseFloat(x));
      return { r, g, b, a };
    };
    const lum = ({ r, g, b }) => {
      const f = (c) => {
        const v = c / 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let node = el; node; node = node.parentElement) {
        const c = rgb(getComputedStyle(node).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const failures = [];
    for (const el of document.querySelectorAll('body *')) {
      const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || el.closest('.hidden, [disabled], svg') || !el.getClientRects().length) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden') continue;
      const fg = rgb(style.color);
      const bg = background(el);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
      if (ratio < (large ? 3 : 4.5)) failures.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    return failures;
  });
}

describe('console in a browser', { timeout: 115_000 }, () => {
  let tmp;
  let docent;
  let base;
  let browser;
  let site;
  let siteBase;

  async function shot(page, name) {
    if (!SHOTS) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, animations: 'disabled' });
  }

  /** Runs a scenario; on failure adds a screenshot path and the server log. */
  async function scenario(name, page, run) {
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    try {
      await run();
      assert.deepEqual(pageErrors, [], 'the console threw in the page');
    } catch (error) {
      const file = path.join(tmp, `${name}-failure.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      error.message += `\n--- screenshot: ${file}\n--- page errors: ${JSON.stringify(pageErrors)}\n--- docent log ---\n${docent.log()}`;
      throw error;
    }
  }

  before(async () => {
    assert.ok(fs.existsSync(BIN), `no docent binary at ${BIN}: build it first (cargo build) or set DOCENT_BIN`);
    assert.ok(fs.existsSync(CHROMIUM), `no ${CHROMIUM}: run scripts/e2e-widget.sh, which installs it`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'docent-console-'));
    const dataDir = path.join(tmp, 'data');
    fs.mkdirSync(dataDir);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // A small website on loopback for the crawl (which then needs private
    // addresses allowed), its pages served a little slowly so progress shows.
    site = http.createServer(async (req, res) => {
      const pages = {
        '/': '<h1>Acme help</h1><p>Start here.</p><a href="/returns">Returns</a> <a href="/warranty">Warranty</a> <a href="/care">Care</a>',
        '/returns': '<h1>Returns</h1><p>Items can be returned within 30 days.</p>',
        '/warranty': '<h1>Warranty</h1><p>Every tent has a two year warranty.</p>',
        '/care': '<h1>Care</h1><p>Dry your tent before you store it.</p>',
      };
      const path = new URL(req.url, 'http://site').pathname;
      await new Promise((r) => setTimeout(r, 150));
      if (!(path in pages)) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><title>${path}</title></head><body>${pages[path]}</body></html>`);
    });
    await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteBase = `http://127.0.0.1:${site.address().port}`;
    docent = startDocent(port, dataDir, undefined, { DOCENT_CRAWL_ALLOW_PRIVATE_NETWORKS: 'true' });
    await until('the server to answer', async () => {
      if (docent.exit()) {
        const error = new Error(`docent exited early:\n${docent.log()}`);
        error.fatal = true;
        throw error;
      }
      return (await fetch(`${base}/api/v1/health`, { signal: AbortSignal.timeout(2000) })).status === 200;
    }, 60_000);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, { timeout: 110_000 });

  after(async () => {
    await browser?.close().catch(() => {});
    await docent?.stop();
    await new Promise((resolve) => (site ? site.close(resolve) : resolve()));
    if (tmp && !process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('takes a new user from sign-up to a bot with ingested knowledge, and a viewer cannot change it', async () => {
    const owner = await browser.newContext({ viewport: { width: 1100, height: 800 }, acceptDownloads: true });
    let botId;
    const page = await owner.newPage();
    await scenario('owner', page, async () => {
      // Signed out, the console sends you to sign in; from there, sign up.
      await page.goto(`${base}/app`);
      assert.match(page.url(), /\/app\/login$/);
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByLabel('Organisation').fill(OWNER.org);
      await page.getByLabel('Email').fill(OWNER.email);
      await page.getByLabel('Password (at least 8 characters)').fill(OWNER.password);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(/\/app\/bots$/);
      await page.getByText('No bot yet.').waitFor();

      // The session lives in cookies scripts cannot read.
      const cookies = await owner.cookies();
      const access = cookies.find((c) => c.name === 'docent_access');
      assert.ok(access && access.httpOnly && access.sameSite === 'Strict' && access.path === '/app', JSON.stringify(cookies));
      assert.equal(await page.evaluate(() => document.cookie), '');
      await shot(page, 'console-bots-empty');

      // A bot, then its settings.
      await page.getByLabel('Name').fill('Acme Help');
      await page.getByRole('button', { name: 'Create bot' }).click();
      await page.getByRole('heading', { name: 'Acme Help', level: 1 }).waitFor();
      botId = new URL(page.url()).pathname.split('/')[3];
      await page.getByLabel('Welcome message').fill('Hi! Ask me about returns.');
      await page.getByLabel('Search').selectOption('keyword');
      await page.getByLabel('Passages per answer (1–50)').fill('3');
      await page.getByLabel(/Public: the widget/).check();
      await page.getByLabel(/Allowed sites/).fill('https://shop.acme.example');
      await page.getByRole('button', { name: 'Save settings' }).click();
      await page.getByText('Settings saved.').waitFor();
      // A bad value is refused with the field named, and nothing changes.
      await page.getByLabel('Passages per answer (1–50)').fill('99');
      await page.getByRole('button', { name: 'Save settings' }).click();
      await page.getByRole('alert').filter({ hasText: 'top_k' }).waitFor();
      await page.reload();
      assert.equal(await page.getByLabel('Passages per answer (1–50)').inputValue(), '3');
      assert.equal(await page.getByLabel('Welcome message').inputValue(), 'Hi! Ask me about returns.');
      assert.equal(await page.getByLabel('Search').inputValue(), 'keyword');
      assert.match(await page.locator('#snippet').innerText(), /widget\.js" data-bot-id="[^"]+" async/);
      await shot(page, 'console-bot-settings');
      assert.deepEqual(await lowContrast(page), [], 'settings page contrast (WCAG AA)');

      // Knowledge: a text, then two files dropped at once.
      await page.getByRole('link', { name: 'Knowledge' }).click();
      await page.getByLabel('Title', { exact: true }).fill('Returns policy');
      await page.getByLabel('Text (plain, Markdown or HTML)').fill('You have 30 days from the date of purchase to return an item.');
      await page.getByRole('button', { name: 'Add text' }).click();
      await page.getByRole('status').filter({ hasText: 'Returns policy' }).waitFor();
      const files = [
        { name: 'shipping.md', mimeType: 'text/markdown', buffer: Buffer.from('# Shipping\n\nParcels leave the warehouse within two working days.\n') },
        { name: 'hours.txt', mimeType: 'text/plain', buffer: Buffer.from('Support answers on weekdays from nine to five.\n') },
        { name: 'manual.pdf', mimeType: 'application/pdf', buffer: fs.readFileSync(PDF) },
      ];
      const drop = await page.evaluateHandle((specs) => {
        const transfer = new DataTransfer();
        for (const f of specs) {
          const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
          transfer.items.add(new File([bytes], f.name, { type: f.type }));
        }
        return transfer;
      }, files.map((f) => ({ name: f.name, type: f.mimeType, base64: f.buffer.toString('base64') })));
      const reloaded = page.waitForEvent('load');
      await page.locator('form[data-upload]').dispatchEvent('drop', { dataTransfer: drop });
      await reloaded;
      // Each file went in its own request and the page lists all three
      // documents; the worker makes them ready.
      await until('four ready documents', async () => {
        await page.reload();
        return (await page.locator('tr[data-status="ready"]').count()) === 4;
      }, 30_000, 500);
      assert.equal(await page.locator('tr[data-status="ready"] td:nth-child(3)').filter({ hasText: 'pdf' }).count(), 1);
      // A document opens to its passages; the PDF's carry their pages.
      await page.locator('tr[data-status="ready"]').filter({ hasText: 'pdf' }).getByRole('link').click();
      const chunks = page.locator('[data-chunks] li');
      assert.ok((await chunks.count()) >= 1);
      assert.match(await chunks.first().locator('.note').innerText(), /page 1/);
      await page.goBack();
      await page.getByRole('cell', { name: 'Returns policy', exact: true }).waitFor();
      // A crawl of the local site, watched live until its pages are ready.
      await page.getByLabel('Start page').fill(`${siteBase}/`);
      await page.getByLabel('Pages at most (1–10000, default 50)').fill('10');
      await page.getByRole('button', { name: 'Start crawl' }).click();
      await page.getByRole('heading', { name: 'Crawl', level: 1 }).waitFor();
      const crawl = page.locator('[data-crawl]');
      await crawl.locator('[data-field="finished"]:not([hidden])').waitFor({ timeout: 30_000 });
      assert.equal(await crawl.locator('[data-field="status"]').innerText(), 'succeeded');
      assert.equal(await crawl.locator('[data-field="done"]').innerText(), '4');
      assert.equal(await crawl.locator('[data-field="ready"]').innerText(), '8');
      assert.equal(await crawl.locator('progress').evaluate((p) => p.value), 4);
      await shot(page, 'console-crawl');
      await crawl.getByRole('link', { name: 'See the documents' }).click();
      assert.equal(await page.locator('tr[data-status="ready"]').count(), 8);

      await page.getByLabel('Title contains').fill('POLICY');
      await page.getByRole('button', { name: 'Filter' }).click();
      assert.deepEqual(await page.locator('[data-documents] tbody tr td:first-child a').allInnerTexts(), ['Returns policy']);
      await page.getByLabel('Title contains').fill('');
      await page.getByLabel('Status').selectOption('failed');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('No document is failed.').waitFor();
      await page.goto(`${base}/app/bots`);
      await shot(page, 'console-bots');
      await page.getByRole('link', { name: 'Acme Help' }).click();
      await page.getByRole('link', { name: 'Knowledge' }).click();
      await shot(page, 'console-knowledge');
      assert.deepEqual(await lowContrast(page), [], 'knowledge page contrast (WCAG AA)');

      // The playground: a question streamed, its citations, and what
      // retrieval did.
      await page.getByRole('link', { name: 'Playground' }).click();
      await page.getByLabel('Ask Acme Help').fill('How many days do I have to return an item?');
      await page.getByRole('button', { name: 'Send' }).click();
      const answer = page.locator('li.turn.assistant[data-message-id]');
      await answer.waitFor();
      assert.match(await answer.locator('.answer').innerText(), /30 days/);
      const cited = answer.locator('.citations details').filter({ hasText: 'Returns policy' });
      await cited.locator('summary').click();
      assert.match(await cited.locator('.passage').innerText(), /30 days from the date of purchase/);
      await answer.locator('[data-candidates] summary').click();
      assert.ok((await answer.locator('[data-candidates] tr[data-outcome="kept"]').count()) >= 1);
      assert.match(await answer.locator('[data-candidates] summary').innerText(), /keyword, top 3/);
      // A vote on the answer, recorded as a visitor's feedback is.
      await answer.getByLabel('Comment (optional)').fill('clear and right');
      await answer.getByRole('button', { name: 'Helpful', exact: true }).click();
      await answer.getByRole('status').filter({ hasText: 'recorded as helpful' }).waitFor();
      await shot(page, 'console-playground');
      assert.deepEqual(await lowContrast(page), [], 'playground contrast (WCAG AA)');

      // The conversation is listed with its transcript and citations.
      await page.getByRole('link', { name: 'Conversations' }).click();
      const rows = page.locator('[data-conversations] tbody tr');
      assert.equal(await rows.count(), 1);
      assert.match(await rows.first().innerText(), /a user of the tenant\s+2\b/);
      await rows.first().getByRole('link').click();
      const transcript = page.locator('[data-transcript]');
      await transcript.getByText('How many days do I have to return an item?').waitFor();
      assert.match(await transcript.locator('.turn.assistant .answer').innerText(), /30 days/);
      assert.match((await transcript.locator('.citations summary').allInnerTexts()).join('\n'), /Returns policy/);
      assert.match(await transcript.locator('.turn.assistant').innerText(), /helpful[\s\S]*clear and right/);

      // Usage: the period against the plan, and the last 30 days.
      await page.getByRole('link', { name: 'Usage' }).click();
      await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
      assert.match(await page.locator('.meter').filter({ hasText: 'Documents' }).innerText(), /Documents\s+8\b/);
      assert.equal(await page.locator('figure.chart').count(), 2);
      await page.getByText('The figures per day').click();
      const today = new Date().toISOString().slice(0, 10);
      const row = page.getByRole('row', { name: new RegExp(today) });
      assert.deepEqual((await row.locator('td').allInnerTexts()).map((t) => t.trim()), [today, '1', '0', '0', '8']);
      await shot(page, 'console-usage');
      assert.deepEqual(await lowContrast(page), [], 'usage page contrast (WCAG AA)');
      // The check sees faint text: a planted grey line is reported.
      await page.evaluate(() => {
        const faint = document.createElement('p');
        faint.id = 'faint';
        faint.textContent = 'faint';
        faint.style.color = '#bbbbbb';
        document.querySelector('main').append(faint);
      });
      assert.equal((await lowContrast(page)).length, 1);
      await page.evaluate(() => document.getElementById('faint').remove());

      // Team and keys: a viewer added with a first password; an API key
      // shown once, then only by its prefix, then revoked.
      await page.getByRole('link', { name: 'Team' }).click();
      await page.getByLabel('Email').fill(VIEWER.email);
      await page.getByLabel('Their first password (at least 8 characters)').fill(VIEWER.password);
      await page.locator('#user-role').selectOption('viewer');
      await page.getByRole('button', { name: 'Add user' }).click();
      await page.getByRole('status').filter({ hasText: 'The user is added' }).waitFor();
      await page.locator('[data-users]').getByRole('cell', { name: VIEWER.email, exact: true }).waitFor();
      await page.getByLabel('Name').fill('CI');
      await page.locator('#key-role').selectOption('editor');
      await page.getByRole('button', { name: 'Create key' }).click();
      const secret = (await page.locator('#new-key').innerText()).trim();
      assert.match(secret, /^dct_[A-Za-z0-9_-]{43}$/);
      const keyCheck = await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${secret}` } });
      assert.equal(keyCheck.status, 200, 'the new key works');
      await page.goto(`${base}/app/team`);
      assert.equal(await page.locator('#new-key').count(), 0, 'the key is shown once');
      assert.doesNotMatch(await page.content(), new RegExp(secret));
      const keyRow = page.locator('[data-keys] tr').filter({ hasText: 'CI' });
      assert.match(await keyRow.innerText(), /dct_\S+…\s+editor/);
      await shot(page, 'console-team');
      page.once('dialog', (dialog) => dialog.accept());
      await keyRow.getByRole('button', { name: /Revoke/ }).click();
      await page.getByRole('status').filter({ hasText: 'The key is revoked' }).waitFor();

      // The audit log has it all, filtered by action.
      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByLabel('Action').fill('api_key.revoke');
      await page.getByRole('button', { name: 'Filter' }).click();
      const entries = page.locator('[data-audit] tbody tr');
      assert.equal(await entries.count(), 1);
      assert.match(await entries.first().innerText(), /user .*api_key\.revoke\s+api_key/);
      await page.getByLabel('Action').fill('');
      await page.getByRole('button', { name: 'Filter' }).click();
      assert.ok((await entries.count()) >= 6, 'sign-up, bot, settings, documents, crawl, user, key');
      await shot(page, 'console-audit');
      const revoked = await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${secret}` } });
      assert.equal(revoked.status, 401, 'a revoked key no longer works');
    });

    // The owner's API token, for what the widget does in the leads step.
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: OWNER.email, password: OWNER.password }),
    }).then((r) => r.json());

    const viewer = await browser.newContext({ viewport: { width: 375, height: 740 } });
    const phone = await viewer.newPage();
    await scenario('viewer', phone, async () => {
      await phone.goto(`${base}/app/login`);
      await phone.getByLabel('Email').fill(VIEWER.email);
      await phone.getByLabel('Password').fill('wrong password');
      await phone.getByRole('button', { name: 'Sign in' }).click();
      await phone.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
      await phone.getByLabel('Password').fill(VIEWER.password);
      await phone.getByRole('button', { name: 'Sign in' }).click();
      await phone.waitForURL(/\/app\/bots$/);
      assert.equal(await phone.getByRole('button', { name: 'Create bot' }).count(), 0);
      await phone.getByRole('link', { name: 'Acme Help' }).click();
      await phone.getByText('You can read these settings; an editor can change them.').waitFor();
      assert.equal(await phone.getByRole('button', { name: 'Save settings' }).count(), 0);
      assert.ok(await phone.getByLabel('Welcome message').isDisabled());
      // Nothing scrolls sideways on a 375-pixel phone.
      assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
      await phone.getByRole('link', { name: 'Knowledge' }).click();
      await phone.getByRole('cell', { name: 'Returns policy', exact: true }).waitFor();
      assert.equal(await phone.getByRole('button', { name: 'Upload' }).count(), 0);
      // A forged request with the viewer's own session and form token is
      // still refused by the services' role check.
      const forged = await phone.evaluate(async () => {
        const body = new URLSearchParams({ csrf: document.querySelector('input[name=csrf]').value, name: 'Mine now', top_k: '3' });
        const res = await fetch(window.location.pathname.replace('/knowledge', ''), { method: 'POST', body });
        return { status: res.status, text: await res.text() };
      });
      assert.equal(forged.status, 403, forged.text);
      assert.match(forged.text, /Your role does not allow this/);
      // Without the form token, nothing is even tried.
      const noToken = await phone.evaluate(async () => {
        const res = await fetch(window.location.pathname.replace('/knowledge', ''), { method: 'POST', body: new URLSearchParams({ name: 'x' }) });
        return res.status;
      });
      assert.equal(noToken, 403);
      await shot(phone, 'console-phone-viewer');
      // Usage is for owners and admins: no link, and the page says why.
      assert.equal(await phone.getByRole('link', { name: 'Usage' }).count(), 0);
      assert.equal(await phone.getByRole('link', { name: 'Team' }).count(), 0);
      assert.equal(await phone.getByRole('link', { name: 'Audit log' }).count(), 0);
      const usage = await phone.goto(`${base}/app/usage`);
      assert.equal(usage.status(), 403);
      await phone.getByText(/Your role does not allow this/).waitFor();

      // Signing out ends the session: the console asks to sign in again.
      await phone.getByRole('button', { name: 'Sign out' }).click();
      await phone.waitForURL(/\/app\/login$/);
      await phone.goto(`${base}/app/bots`);
      assert.match(phone.url(), /\/app\/login$/);
    });

    // A lead left through the API (as the widget does) is listed, and
    // exported as CSV with spreadsheet formulas defused.
    const lead = await fetch(`${base}/api/v1/leads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${login.access_token}` },
      body: JSON.stringify({ bot_id: botId, email: 'pat@example.com', name: '=HYPERLINK("https://evil.example")' }),
    });
    assert.equal(lead.status, 201, await lead.text());
    await scenario('leads', page, async () => {
      await page.goto(`${base}/app/leads`);
      await page.getByRole('cell', { name: 'pat@example.com' }).waitFor();
      const download = page.waitForEvent('download');
      await page.getByRole('link', { name: 'Export all as CSV' }).click();
      const file = await (await download).path();
      const csv = fs.readFileSync(file, 'utf8');
      assert.match(csv, /^created_at,email,name,phone,bot_id,session_id,visitor\n/);
      assert.match(csv, /pat@example\.com,"'=HYPERLINK\(""https:\/\/evil\.example""\)"/);
    });
    // The settings page previews the real widget with the theme being
    // edited, before it is saved, and the preview chats with the bot.
    await scenario('preview', page, async () => {
      await page.goto(`${base}/app/bots/${botId}`);
      const frame = page.frameLocator('iframe[data-preview]');
      const launcher = frame.locator('[data-docent-launcher]');
      await launcher.waitFor();
      const colour = () => launcher.evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.equal(await colour(), 'rgb(37, 99, 235)', 'the saved (default) colour');
      await page.getByLabel('Main colour').fill('#b91c1c');
      await page.getByLabel(/Button label/).fill('Ask us');
      await until('the preview to take the new theme', async () => {
        const label = await frame.locator('[data-docent-launcher]').innerText().catch(() => '');
        return label.includes('Ask us') && (await colour().catch(() => '')) === 'rgb(185, 28, 28)';
      }, 10_000, 200);
      await page.locator('iframe[data-preview]').scrollIntoViewIfNeeded();
      await launcher.click();
      await frame.getByRole('textbox', { name: 'Your message' }).fill('How many days do I have to return an item?');
      await frame.getByRole('textbox', { name: 'Your message' }).press('Enter');
      await frame.getByText(/30 days/).first().waitFor({ timeout: 15_000 });
      await shot(page, 'console-bot-preview');
      // Not saved: the settings still hold the old colour.
      await page.reload();
      assert.equal(await page.getByLabel('Main colour').inputValue(), '#2563eb');
    });
    await owner.close();
    await viewer.close();
  });
});
