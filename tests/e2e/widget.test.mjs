// End-to-end test of the chat widget: the real docent binary, a customer page
// on another origin that embeds /widget.js, and headless Chromium driving it
// the way a visitor would. Run it with scripts/e2e-widget.sh (which installs
// Chromium and playwright-core), or directly:
//
//   DOCENT_BIN=target/debug/docent node --test tests/e2e/
//
// Env: DOCENT_BIN (default target/debug/docent, relative to the repo root);
// WIDGET_SCREENSHOT, a path to save a picture of the open widget with a cited
// answer (the docs use it).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { BIN, CHROMIUM, CHROMIUM_ARGS, freePort, startDocent, until } from './support.mjs';

const SCREENSHOT = process.env.WIDGET_SCREENSHOT
  ? path.resolve(process.cwd(), process.env.WIDGET_SCREENSHOT)
  : null;
const QUESTION = 'How long do I have to return an item?';
const SOURCE_URL = 'https://acme.example/returns';
const POLICY =
  'Acme accepts returns of unused items in their original packaging. ' +
  'You have 30 days from the date of purchase to return an item for a full refund. ' +
  'Refunds are paid to the original card within 5 business days. ' +
  'Items bought on sale can be exchanged but not refunded.';

// What the fake chat model answers: one sentence the policy supports and one
// it does not, which the grounding check flags and the widget marks.
const INVENTED = 'Returns are also accepted by carrier pigeon on Sundays [1].';
const MODEL_REPLY = `You have 30 days from the date of purchase to return an item for a full refund [1]. ${INVENTED}`;

/**
 * A fake OpenAI-compatible chat model (no model service is reachable here):
 * `GET /v1/models` and `POST /v1/chat/completions`, streamed word by word or
 * whole, always with MODEL_REPLY.
 */
function startFakeModel() {
  const server = http.createServer((req, res) => {
    const route = new URL(req.url, 'http://model').pathname;
    if (req.method === 'GET' && route === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake', object: 'model' }] }));
      return;
    }
    if (req.method !== 'POST' || route !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}');
      const usage = { prompt_tokens: 50, completion_tokens: 20, total_tokens: 70 };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          id: 'fake', object: 'chat.completion', model: 'fake', usage,
          choices: [{ index: 0, message: { role: 'assistant', content: MODEL_REPLY }, finish_reason: 'stop' }],
        }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta, finish) => JSON.stringify({
        id: 'fake', object: 'chat.completion.chunk', model: 'fake',
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      for (const word of MODEL_REPLY.split(/(?<= )/)) res.write(`data: ${chunk({ content: word }, null)}\n\n`);
      res.write(`data: ${chunk({}, 'stop')}\n\n`);
      res.write(`data: ${JSON.stringify({ id: 'fake', object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The customer's page: CSS that would wreck a naive widget, and the embed snippet. */
function customerPage(apiBase, botId) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Outdoor Supply</title>
<style>
  * { font-size: 40px; font-family: Georgia, serif; }
  button { all: unset; color: red; }
  div, span, form, ol, li { margin: 30px; border: 3px dashed orange; }
  a { color: red !important; }
  [role="dialog"] { display: none; }
  body { background: #fafaf9; color: #1c1917; }
</style>
</head>
<body>
<h1>Acme Outdoor Supply</h1>
<p>Tents, packs and boots for every trail.</p>
<script src="${apiBase}/widget.js" data-bot-id="${botId}" async></script>
</body>
</html>`;
}

describe('chat widget in a browser', { timeout: 115_000 }, () => {
  let tmp;
  let docent;
  let apiBase;
  let pages;
  let pagePort;
  let context;
  let botId;
  let model;

  /** Calls the API; fails with the server's log when the status is not `expect`. */
  async function call(method, route, { token, body, expect, origin } = {}) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    if (origin) headers.origin = origin;
    const res = await fetch(`${apiBase}${route}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15000),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    if (expect && res.status !== expect) {
      throw new Error(
        `${method} ${route} answered ${res.status}, expected ${expect}: ${text}\n--- docent log ---\n${docent.log()}`,
      );
    }
    return json;
  }

  /** Runs a browser scenario; on failure keeps a screenshot and adds the server log. */
  async function scenario(name, page, run) {
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    try {
      await run();
      assert.deepEqual(pageErrors, [], 'the widget threw in the page');
    } catch (error) {
      const shot = path.join(tmp, `${name}-failure.png`);
      await page.screenshot({ path: shot }).catch(() => {});
      error.message += `\n--- screenshot: ${shot}\n--- page errors: ${JSON.stringify(pageErrors)}\n--- docent log ---\n${docent.log()}`;
      throw error;
    } finally {
      await page.close().catch(() => {});
    }
  }

  before(async () => {
    assert.ok(
      fs.existsSync(BIN),
      `no docent binary at ${BIN}: build it first (cargo build) or set DOCENT_BIN`,
    );
    assert.ok(fs.existsSync(CHROMIUM), `no ${CHROMIUM}: run scripts/e2e-widget.sh, which installs it`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'docent-e2e-'));
    const dataDir = path.join(tmp, 'data');
    fs.mkdirSync(dataDir);

    // 1. The real server, on a port picked here.
    model = await startFakeModel();
    const apiPort = await freePort();
    apiBase = `http://127.0.0.1:${apiPort}`;
    docent = startDocent(apiPort, dataDir, `http://127.0.0.1:${model.address().port}/v1`);
    await until(
      'GET /api/v1/health to answer 200',
      async () => {
        const exit = docent.exit();
        if (exit) {
          const error = new Error(`docent exited early (${JSON.stringify(exit)}):\n${docent.log()}`);
          error.fatal = true;
          throw error;
        }
        const res = await fetch(`${apiBase}/api/v1/health`, { signal: AbortSignal.timeout(2000) });
        return res.status === 200;
      },
      60_000,
    );

    // 2. The customer's site (its port must be known before the bot allows it).
    pages = http.createServer((req, res) => {
      if (new URL(req.url, 'http://page').pathname !== '/') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(customerPage(apiBase, botId));
    });
    await new Promise((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagePort = pages.address().port;

    // 3. A tenant, a public bot that allows http://localhost:<pagePort> only,
    //    and one document, ingested.
    const signup = await call('POST', '/api/v1/tenants', {
      body: { name: 'Acme', email: 'owner@acme.example', password: 'correct horse battery' },
      expect: 201,
    });
    const token = signup.access_token;
    const bot = await call('POST', '/api/v1/bots', {
      token,
      body: {
        name: 'Acme Help',
        welcome_message: 'Hi! Ask me about Acme.',
        public: true,
        allowed_origins: [`http://localhost:${pagePort}`],
        theme: { primary_color: '#0f766e' },
      },
      expect: 201,
    });
    botId = bot.id;
    assert.ok(botId, `bot without id: ${JSON.stringify(bot)}`);
    const doc = await call('POST', '/api/v1/docs', {
      token,
      body: { bot_id: botId, title: 'Returns policy', text: POLICY, source_url: SOURCE_URL },
      expect: 202,
    });
    await until(
      'the document to be ready',
      async () => {
        const { document } = await call('GET', `/api/v1/docs/${doc.document.id}`, { token, expect: 200 });
        if (document.status === 'failed') {
          const error = new Error(`ingestion failed: ${document.error}\n${docent.log()}`);
          error.fatal = true;
          throw error;
        }
        return document.status === 'ready';
      },
      60_000,
    );

    // 4. Chromium, with a profile of its own.
    context = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 720 },
    });
    context.setDefaultTimeout(20_000);
  }, { timeout: 110_000 });

  after(async () => {
    await context?.close().catch(() => {});
    await new Promise((resolve) => (pages ? pages.close(resolve) : resolve()));
    await docent?.stop();
    await new Promise((resolve) => (model ? model.close(resolve) : resolve()));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('answers with cited sources on an allowed site and restores the conversation after a reload', async () => {
    const page = await context.newPage();
    await scenario('allowed', page, async () => {
      const tokenResponse = page.waitForResponse((r) => r.url().endsWith(`/widget/${botId}/token`) && r.request().method() === 'POST');
      await page.goto(`http://localhost:${pagePort}/`);
      const launcher = page.locator('[data-docent-launcher]');
      await launcher.click();
      assert.equal((await tokenResponse).status(), 201);
      assert.equal(await launcher.getAttribute('aria-expanded'), 'true');

      // The dialog is named after the bot and greets with its welcome message.
      const panel = page.getByRole('dialog', { name: 'Acme Help' });
      await panel.getByText('Hi! Ask me about Acme.').waitFor();

      // The host page's CSS does not reach into the widget; the theme does.
      const look = await launcher.evaluate((el) => {
        const s = getComputedStyle(el);
        return { fontSize: s.fontSize, background: s.backgroundColor, color: s.color };
      });
      assert.notEqual(look.fontSize, '40px', 'host page font-size leaked into the widget');
      assert.notEqual(look.color, 'rgb(255, 0, 0)', 'host page button colour leaked into the widget');
      assert.equal(look.background, 'rgb(15, 118, 110)', 'theme.primary_color not applied');

      const input = panel.getByRole('textbox', { name: 'Your message' });
      assert.ok(await input.evaluate((el) => el.getRootNode().activeElement === el), 'focus is not in the input');
      await input.fill(QUESTION);
      await input.press('Enter');

      const answer = panel.locator('[data-role="assistant"][data-state="done"]');
      await answer.waitFor({ timeout: 30_000 });
      assert.match(await answer.innerText(), /30 days/);
      const cite = answer.locator(`a.docent-cite[href="${SOURCE_URL}"]`).first();
      assert.equal(await cite.getAttribute('target'), '_blank');
      assert.equal(await cite.getAttribute('rel'), 'noopener noreferrer');
      assert.match(await answer.locator('[data-docent-sources]').innerText(), /Returns policy/);
      assert.equal(await panel.locator('[data-role="user"]').filter({ hasText: QUESTION }).count(), 1);
      assert.equal(await panel.locator('[data-state="streaming"]').count(), 0);

      // The sentence the policy does not support is marked, discreetly; the
      // supported one is not.
      const flagged = answer.locator('[data-docent-unsupported]');
      assert.equal(await flagged.count(), 1);
      assert.match(await flagged.innerText(), /carrier pigeon/);
      assert.equal(await flagged.getAttribute('title'), 'Not found in the cited sources');
      assert.doesNotMatch(await flagged.innerText(), /30 days/);

      if (SCREENSHOT) {
        fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, animations: 'disabled' });
      }

      // A new page load keeps the visitor and their conversation.
      await page.reload();
      await page.locator('[data-docent-launcher]').click();
      await panel.locator('[data-role="user"]').filter({ hasText: QUESTION }).waitFor();
      const restored = panel.locator('[data-role="assistant"][data-state="done"]').first();
      await restored.waitFor();
      assert.match(await restored.innerText(), /30 days/);
      assert.match(await restored.locator('[data-docent-unsupported]').innerText(), /carrier pigeon/);

      // Thumbs up on the answer is stored with it and shown after a reload.
      const helpful = restored.getByRole('button', { name: 'Helpful', exact: true });
      assert.equal(await helpful.getAttribute('aria-pressed'), 'false');
      const voted = page.waitForResponse((r) => r.url().includes('/feedback') && r.request().method() === 'POST');
      await helpful.click();
      assert.equal((await voted).status(), 200);
      assert.equal(await helpful.getAttribute('aria-pressed'), 'true');
      await page.reload();
      await page.locator('[data-docent-launcher]').click();
      const again = panel.locator('[data-role="assistant"][data-state="done"]').first();
      await again.waitFor();
      assert.equal(await again.getByRole('button', { name: 'Helpful', exact: true }).getAttribute('aria-pressed'), 'true');
      assert.equal(await again.getByRole('button', { name: 'Not helpful' }).getAttribute('aria-pressed'), 'false');

      // Escape closes the panel and gives focus back to the launcher.
      await page.keyboard.press('Escape');
      await panel.waitFor({ state: 'hidden' });
      const relauncher = page.locator('[data-docent-launcher]');
      assert.equal(await relauncher.getAttribute('aria-expanded'), 'false');
      assert.ok(await relauncher.evaluate((el) => el.getRootNode().activeElement === el), 'focus did not return to the launcher');
    });
  });

  it('tells visitors of a site that is not in allowed_origins that chat is not available', async () => {
    // The same page from another origin: 127.0.0.1 instead of localhost. The
    // server refuses it a token (the browser, seeing no CORS grant, does not
    // even send the request: the widget must tell refusal from a network error).
    const refusedOrigin = `http://127.0.0.1:${pagePort}`;
    await call('POST', `/api/v1/widget/${botId}/token`, { origin: refusedOrigin, body: {}, expect: 403 });
    const page = await context.newPage();
    await scenario('refused', page, async () => {
      await page.goto(`${refusedOrigin}/`);
      await page.locator('[data-docent-launcher]').click();

      const notice = page.locator('[data-docent-notice="forbidden"]');
      await notice.waitFor();
      assert.match(await notice.innerText(), /not available on this website/i);
      assert.ok(await page.getByRole('textbox', { name: 'Your message' }).isDisabled());
      assert.equal(await page.locator('[data-role="assistant"][data-state]').count(), 0);
    });
  });
});
