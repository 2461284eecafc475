/*!
 * Docent chat widget: the browser side of a Docent bot's website chat.
 *
 * Embed it on any page of a site listed in the bot's `allowed_origins`:
 *
 *   <script src="https://HOST/widget.js" data-bot-id="BOT_ID" async></script>
 *
 * (The console's preview adds `data-config-url` and `data-token-url`, routes
 * of the same server that serve a bot that is not public yet.)
 *
 * It talks only to the server it was loaded from (the origin of this script's
 * src):
 *   GET  /api/v1/widget/{bot}/config              name, welcome message, theme
 *   POST /api/v1/widget/{bot}/token               a short-lived visitor token
 *   POST /api/v1/chat                             answers, as server-sent events
 *   GET  /api/v1/chat/sessions/{id}/messages      the earlier conversation
 *   POST /api/v1/leads                            "Leave your contact"
 * The visitor id and the conversation id are kept in localStorage
 * (`docent:<bot>:visitor`, `docent:<bot>:session`), so a visitor keeps their
 * conversation across page loads.
 *
 * All of its DOM lives in an open shadow root, so the host page's CSS cannot
 * reach it, and text from the server or the visitor is only ever inserted as
 * text nodes, never as HTML.
 *
 * Plain ES2020, no dependencies, no build step: this file is served as it is
 * by the docent binary at GET /widget.js.
 */
(() => {
  'use strict';

  const script =
    document.currentScript ||
    document.querySelector('script[data-bot-id][src*="widget.js"]');
  if (!script || !script.src) return;
  const botId = (script.getAttribute('data-bot-id') || '').trim();
  if (!botId) {
    console.warn('[docent] widget.js needs a data-bot-id attribute');
    return;
  }
  let base;
  try {
    base = new URL(script.src, location.href).origin;
  } catch (_) {
    return;
  }
  const api = (path) => `${base}/api/v1${path}`;
  const botPath = encodeURIComponent(botId);
  /**
   * The console's preview points the widget at its own config and token
   * routes (`data-config-url`, `data-token-url`); only URLs on the widget's
   * own server are taken.
   */
  function ownUrl(name) {
    const raw = script.getAttribute(name);
    if (!raw) return null;
    try {
      const url = new URL(raw, base);
      if (url.origin === base) return url.href;
    } catch (_) {
      // not a URL: ignored below
    }
    console.warn(`[docent] ${name} must be a URL on ${base}; ignored`);
    return null;
  }
  const consoleConfig = ownUrl('data-config-url');
  const consoleToken = ownUrl('data-token-url');
  const configUrl = consoleConfig || api(`/widget/${botPath}/config`);
  const tokenUrl = consoleToken || api(`/widget/${botPath}/token`);

  const DEFAULTS = {
    name: 'Assistant',
    welcome: 'Hi! How can I help you today?',
    primary: '#2563eb',
    text: '#111827',
    background: '#ffffff',
    label: 'Chat',
  };
  const KEY_VISITOR = `docent:${botId}:visitor`;
  const KEY_SESSION = `docent:${botId}:session`;
  const REQUEST_TIMEOUT_MS = 20000;
  /** A stream that sends nothing (not even the server's keep-alive) this long is dead. */
  const STREAM_IDLE_MS = 60000;

  // ---------------------------------------------------------------- storage

  /** localStorage, falling back to memory where it is blocked (privacy modes, sandboxed frames). */
  const store = (() => {
    const memory = new Map();
    const local = () => {
      try {
        return window.localStorage;
      } catch (_) {
        return null;
      }
    };
    return {
      get(key) {
        try {
          const value = local() && local().getItem(key);
          if (value != null) return value;
        } catch (_) {
          /* fall back to memory */
        }
        return memory.has(key) ? memory.get(key) : null;
      },
      set(key, value) {
        memory.set(key, value);
        try {
          if (local()) local().setItem(key, value);
        } catch (_) {
          /* memory only */
        }
      },
      remove(key) {
        memory.delete(key);
        try {
          if (local()) local().removeItem(key);
        } catch (_) {
          /* memory only */
        }
      },
    };
  })();

  // ----------------------------------------------------------------- errors

  /** What went wrong, in terms the visitor can be told about. */
  class Problem extends Error {
    constructor(kind, detail) {
      super(kind);
      this.kind = kind;
      Object.assign(this, detail);
    }
  }

  const MESSAGES = {
    forbidden: 'Sorry, this assistant is not available on this website.',
    quota: 'This assistant is unavailable right now. Please try again later.',
    not_found: 'This assistant is unavailable right now. Please try again later.',
    network: "Couldn't reach the assistant. Please check your connection and try again.",
    server: 'Something went wrong on our side. Please try again in a moment.',
    interrupted: 'The answer was interrupted. Please try again.',
    failed: 'Sorry, something went wrong while answering. Please try again.',
  };

  function describe(problem) {
    if (problem.kind === 'rate') {
      const s = problem.retryAfter;
      return s
        ? `You're sending messages too quickly, try again in ${s} second${s === 1 ? '' : 's'}.`
        : "You're sending messages too quickly, try again in a moment.";
    }
    if (problem.kind === 'invalid') return problem.serverMessage || 'That could not be sent.';
    return MESSAGES[problem.kind] || MESSAGES.failed;
  }

  const canRetry = (problem) =>
    ['network', 'server', 'rate', 'interrupted', 'failed'].includes(problem.kind);

  const asProblem = (e) => (e instanceof Problem ? e : new Problem('failed'));

  /** Seconds from a Retry-After header (delta-seconds or an HTTP date). */
  function retryAfterSeconds(value) {
    if (!value) return 0;
    const n = Number(value);
    if (Number.isFinite(n)) return Math.max(1, Math.ceil(n));
    const at = Date.parse(value);
    return Number.isFinite(at) ? Math.max(1, Math.ceil((at - Date.now()) / 1000)) : 0;
  }

  /** A server message fit to show: one line, no code quoting, capitalised. */
  function tidy(message) {
    if (typeof message !== 'string') return '';
    const text = message.replace(/`/g, '').replace(/\s+/g, ' ').trim().slice(0, 200);
    if (!text) return '';
    const sentence = text[0].toUpperCase() + text.slice(1);
    return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
  }

  function problemFromCode(code, message) {
    switch (code) {
      case 'rate_limited':
        return new Problem('rate', { retryAfter: 0 });
      case 'quota_exceeded':
        return new Problem('quota');
      case 'forbidden':
        return new Problem('forbidden');
      case 'invalid_request':
        return new Problem('invalid', { serverMessage: tidy(message) });
      case 'unavailable':
      case 'internal':
        return new Problem('server');
      default:
        return new Problem('failed');
    }
  }

  /** The problem a non-2xx response reports. */
  async function problemFrom(res) {
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      /* not JSON */
    }
    const error = (body && body.error) || {};
    const status = res.status;
    if (status === 429 || error.code === 'rate_limited') {
      return new Problem('rate', { retryAfter: retryAfterSeconds(res.headers.get('Retry-After')) });
    }
    if (status === 402 || error.code === 'quota_exceeded') return new Problem('quota');
    if (status === 403) return new Problem('forbidden');
    if (status === 404) return new Problem('not_found');
    if (status === 401) return new Problem('failed');
    if (status >= 500) return new Problem('server');
    return new Problem('invalid', { serverMessage: tidy(error.message), status });
  }

  // ------------------------------------------------------------------- HTTP

  /**
   * fetch, with a deadline for the response headers. A request that fails
   * outright while the server still answers an opaque (no-cors) request was
   * refused by the browser for CORS: the server names only allowed origins,
   * so for the widget routes this page's origin is not one the bot allows.
   */
  async function request(url, init, whenRefused) {
    const controller = new AbortController();
    if (init.signal) {
      if (init.signal.aborted) controller.abort();
      else init.signal.addEventListener('abort', () => controller.abort(), { once: true });
    }
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      return await fetch(url, {
        ...init,
        mode: 'cors',
        // Cookies only for the console's own routes, on the console's page.
        credentials: init.credentials || 'omit',
        cache: 'no-store',
        signal: controller.signal,
      });
    } catch (_) {
      if (whenRefused === 'forbidden' && (await serverAnswers())) throw new Problem('forbidden');
      throw new Problem('network');
    } finally {
      clearTimeout(timer);
    }
  }

  async function serverAnswers() {
    try {
      await fetch(api('/health'), { method: 'HEAD', mode: 'no-cors', credentials: 'omit', cache: 'no-store' });
      return true;
    } catch (_) {
      return false;
    }
  }

  const auth = { token: null, expires: 0, pending: null };

  /** The visitor's embed token, fetched (once at a time) when missing or about to expire. */
  function token(fresh) {
    if (!fresh && auth.token && Date.now() < auth.expires - 30000) return Promise.resolve(auth.token);
    if (!auth.pending) {
      auth.pending = issueToken().finally(() => {
        auth.pending = null;
      });
    }
    return auth.pending;
  }

  async function issueToken() {
    const visitor = store.get(KEY_VISITOR);
    const res = await request(
      tokenUrl,
      {
        method: 'POST',
        credentials: consoleToken ? 'same-origin' : 'omit',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(visitor ? { visitor_id: visitor } : {}),
      },
      'forbidden',
    );
    if (!res.ok) {
      if (visitor && (res.status === 400 || res.status === 422)) {
        // A visitor id this server does not know: start as a new visitor.
        store.remove(KEY_VISITOR);
        store.remove(KEY_SESSION);
        return issueToken();
      }
      throw await problemFrom(res);
    }
    const body = await res.json().catch(() => ({}));
    if (!body || typeof body.token !== 'string') throw new Problem('server');
    const expires = Date.parse(body.expires_at);
    // A visitor's clock may be off: never trust an expiry already in the past.
    auth.expires = Number.isFinite(expires) && expires > Date.now() + 60000 ? expires : Date.now() + 60000;
    auth.token = body.token;
    if (typeof body.visitor_id === 'string' && body.visitor_id) store.set(KEY_VISITOR, body.visitor_id);
    return auth.token;
  }

  /**
   * A request with the visitor's token. On a 401 (the token expired) or a
   * refused request, it gets a new token once and tries again.
   */
  async function authed(path, init) {
    let bearer = await token(false);
    for (let attempt = 0; ; attempt++) {
      const headers = { ...(init.headers || {}), Authorization: `Bearer ${bearer}` };
      let res;
      try {
        res = await request(api(path), { ...init, headers }, 'network');
      } catch (e) {
        if (attempt > 0 || (init.signal && init.signal.aborted)) throw e;
        bearer = await token(true);
        continue;
      }
      if (res.status !== 401 || attempt > 0) return res;
      bearer = await token(true);
    }
  }

  const jsonPost = (body, accept) => ({
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: accept || 'application/json' },
    body: JSON.stringify(body),
  });

  /**
   * Reads a server-sent-events body, calling onEvent(name, data) for each
   * event; events and lines may be split across chunks anyhow. onEvent
   * returns true to stop reading.
   */
  async function readEvents(body, onEvent, onActivity) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let name = '';
    let data = [];
    let stopped = false;
    const line = (text) => {
      if (text === '') {
        if (data.length) stopped = onEvent(name || 'message', data.join('\n')) === true;
        name = '';
        data = [];
        return;
      }
      if (text[0] === ':') return;
      const colon = text.indexOf(':');
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? '' : text.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (onActivity) onActivity();
        buffer += decoder.decode(value || new Uint8Array(0), { stream: !done });
        let start = 0;
        for (let i = 0; i < buffer.length && !stopped; i++) {
          const c = buffer.charCodeAt(i);
          if (c !== 10 && c !== 13) continue;
          // A CR at the end of a chunk may be the first half of a CRLF.
          if (c === 13 && i + 1 === buffer.length && !done) break;
          line(buffer.slice(start, i));
          if (c === 13 && buffer.charCodeAt(i + 1) === 10) i++;
          start = i + 1;
        }
        buffer = buffer.slice(start);
        if (stopped) return;
        if (done) {
          if (buffer) line(buffer);
          line('');
          return;
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // -------------------------------------------------------------------- DOM

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      el.setAttribute(key, value === true ? '' : String(value));
    }
    el.append(...children.filter((c) => c != null && c !== false));
    return el;
  }

  const SVG = 'http://www.w3.org/2000/svg';
  const ICONS = {
    chat: 'M4 6.5A2.5 2.5 0 0 1 6.5 4h11A2.5 2.5 0 0 1 20 6.5v8a2.5 2.5 0 0 1-2.5 2.5h-7.1l-4.1 3.3A.8.8 0 0 1 5 19.7V17a2.5 2.5 0 0 1-1-2z',
    down: 'M6 9l6 6 6-6',
    close: 'M6 6l12 12M18 6L6 18',
    send: 'M12 19V5M5.5 11.5L12 5l6.5 6.5',
    up: 'M7 11v9H4v-9zM7 11l4-7a2 2 0 0 1 3 1.7L13.3 10H19a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 17.8 20H7',
    downvote: 'M17 13V4h3v9zM17 13l-4 7a2 2 0 0 1-3-1.7l.7-4.3H5a2 2 0 0 1-2-2.3l1.2-6A2 2 0 0 1 6.2 4H17',
  };

  function icon(name, filled) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', ICONS[name]);
    if (filled) {
      path.setAttribute('fill', 'currentColor');
    } else {
      path.setAttribute('fill', 'none');
      path.setAttribute('stroke', 'currentColor');
      path.setAttribute('stroke-width', '2.2');
      path.setAttribute('stroke-linecap', 'round');
      path.setAttribute('stroke-linejoin', 'round');
    }
    svg.append(path);
    return svg;
  }

  /** Only http(s) links are ever followed: a source URL is data from the server. */
  function safeUrl(value) {
    if (typeof value !== 'string' || !value.trim()) return null;
    try {
      const url = new URL(value.trim());
      return url.protocol === 'http:' || url.protocol === 'https:' ? value.trim() : null;
    } catch (_) {
      return null;
    }
  }

  const STYLE = `
:host { all: initial !important; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.root {
  position: fixed; z-index: 2147483000; bottom: 20px; right: 20px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
  font-size: 14px; line-height: 1.5; font-weight: 400; color: var(--d-text);
  text-align: left; letter-spacing: normal; -webkit-font-smoothing: antialiased;
}
.root.left { right: auto; left: 20px; }
button, input, textarea { font: inherit; color: inherit; margin: 0; }
button { cursor: pointer; }
:focus { outline: none; }
:focus-visible { outline: 2px solid var(--d-accent); outline-offset: 2px; }
.launcher {
  display: inline-flex; align-items: center; justify-content: center; gap: 8px;
  height: 52px; min-width: 52px; padding: 0 20px 0 16px; border: 0; border-radius: 26px;
  background: var(--d-primary); color: var(--d-on-primary);
  font-size: 15px; font-weight: 600; line-height: 1;
  box-shadow: 0 6px 20px rgba(15, 23, 42, .22), 0 2px 6px rgba(15, 23, 42, .12);
  transition: transform .15s ease, box-shadow .15s ease;
}
.launcher:hover { transform: translateY(-1px); box-shadow: 0 10px 26px rgba(15, 23, 42, .26), 0 3px 8px rgba(15, 23, 42, .14); }
.launcher:focus-visible { outline-offset: 3px; }
.launcher svg { width: 22px; height: 22px; flex: none; }
.open .launcher { padding: 0; }
.open .launcher .launcher-label { display: none; }
.panel {
  position: absolute; right: 0; bottom: 66px;
  width: 360px; height: 520px; max-height: calc(100vh - 108px);
  display: flex; flex-direction: column; overflow: hidden;
  background: var(--d-bg); color: var(--d-text);
  border: 1px solid rgba(127, 127, 127, .18); border-radius: 16px;
  box-shadow: 0 16px 48px rgba(15, 23, 42, .2), 0 2px 8px rgba(15, 23, 42, .08);
  animation: d-in .18s ease-out;
}
.left .panel { right: auto; left: 0; }
@keyframes d-in { from { opacity: 0; transform: translateY(8px) scale(.98); } }
.header {
  display: flex; align-items: center; gap: 10px; flex: none;
  padding: 12px 10px 12px 16px; background: var(--d-primary); color: var(--d-on-primary);
}
.avatar {
  width: 34px; height: 34px; flex: none; border-radius: 50%;
  display: grid; place-items: center; font-weight: 700; font-size: 15px;
  background: rgba(255, 255, 255, .2); box-shadow: inset 0 0 0 1px rgba(255, 255, 255, .25);
}
.heading { flex: 1; min-width: 0; }
.name { margin: 0; font-size: 15px; font-weight: 600; line-height: 1.3; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tagline { margin: 0; font-size: 12px; line-height: 1.3; opacity: .85; }
.icon-button {
  width: 34px; height: 34px; flex: none; display: grid; place-items: center;
  border: 0; border-radius: 8px; background: transparent; color: inherit;
}
.icon-button:hover { background: rgba(127, 127, 127, .22); }
.icon-button svg { width: 20px; height: 20px; }
.header .icon-button:focus-visible { outline-color: currentColor; }
.messages {
  flex: 1; min-height: 0; overflow-y: auto; overscroll-behavior: contain;
  padding: 16px 14px; display: flex; flex-direction: column; gap: 10px;
}
.msg { display: flex; }
.msg[data-role="user"] { justify-content: flex-end; }
.bubble { max-width: 86%; padding: 9px 13px; border-radius: 16px; overflow-wrap: anywhere; }
.msg[data-role="assistant"] .bubble {
  background: rgba(127, 127, 127, .12);
  background: color-mix(in srgb, var(--d-text) 6%, var(--d-bg));
  border-bottom-left-radius: 4px;
}
.msg[data-role="user"] .bubble { background: var(--d-primary); color: var(--d-on-primary); border-bottom-right-radius: 4px; }
.text { white-space: pre-wrap; }
.unsupported { text-decoration: underline dotted; text-decoration-color: rgba(127, 127, 127, .8); text-underline-offset: 3px; }
.hidden-note { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.text code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; padding: 1px 4px; border-radius: 4px; background: rgba(127, 127, 127, .16); }
.text strong { font-weight: 600; }
.docent-cite {
  display: inline-block; min-width: 18px; height: 18px; padding: 0 5px; margin: 0 1px;
  border-radius: 9px; font-size: 11px; font-weight: 600; line-height: 18px; text-align: center;
  vertical-align: 1px; text-decoration: none; color: var(--d-accent);
  background: rgba(127, 127, 127, .16);
  background: color-mix(in srgb, var(--d-accent) 14%, var(--d-bg));
}
a.docent-cite[href]:hover { background: var(--d-accent); color: var(--d-bg); }
.sources { margin-top: 8px; padding-top: 7px; border-top: 1px solid rgba(127, 127, 127, .25); font-size: 12.5px; }
.sources-title { margin: 0 0 3px; font-size: 11px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase; opacity: .65; }
.sources ol { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }
.sources li { display: flex; align-items: baseline; gap: 6px; min-width: 0; }
.source-n { flex: none; min-width: 14px; font-size: 11px; font-weight: 600; opacity: .6; }
.source-title { min-width: 0; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.sources a { color: var(--d-accent); text-decoration: none; }
.sources a:hover { text-decoration: underline; }
.typing { display: inline-flex; gap: 4px; padding: 5px 0; }
.typing span { width: 6px; height: 6px; border-radius: 50%; background: currentColor; opacity: .35; animation: d-blink 1.2s infinite ease-in-out; }
.typing span:nth-child(2) { animation-delay: .15s; }
.typing span:nth-child(3) { animation-delay: .3s; }
@keyframes d-blink { 30% { opacity: .9; transform: translateY(-2px); } }
.problem { margin: 6px 0 0; color: #dc2626; font-size: 13px; }
.msg[data-state="error"] .problem:first-child { margin-top: 0; }
.small-button {
  margin-top: 6px; padding: 4px 10px; border-radius: 8px; font-size: 12.5px; font-weight: 600;
  border: 1px solid rgba(127, 127, 127, .35); background: var(--d-bg); color: var(--d-text);
}
.small-button:hover { border-color: var(--d-accent); }
.feedback { display: flex; gap: 4px; margin-top: 6px; }
.feedback button {
  display: inline-flex; padding: 3px; border-radius: 6px; border: 1px solid transparent;
  background: none; color: var(--d-text); opacity: .55; cursor: pointer;
}
.feedback button svg { width: 15px; height: 15px; }
.feedback button:hover, .feedback button:focus-visible { opacity: 1; border-color: rgba(127, 127, 127, .35); }
.feedback button[aria-pressed="true"] { opacity: 1; color: var(--d-accent); }
.note { align-self: center; max-width: 90%; text-align: center; font-size: 12.5px; opacity: .75; }
.notice {
  flex: none; margin: 0 12px 10px; padding: 10px 12px; border-radius: 10px;
  background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; font-size: 13px;
}
.notice .small-button { display: block; }
.lead {
  flex: none; margin: 0 12px 10px; padding: 12px; display: grid; gap: 8px;
  border: 1px solid rgba(127, 127, 127, .25); border-radius: 12px; font-size: 13px;
}
.lead-title { margin: 0; font-weight: 600; }
.lead label { display: grid; gap: 3px; font-size: 12px; font-weight: 500; }
.lead input {
  width: 100%; padding: 7px 10px; border: 1px solid rgba(127, 127, 127, .4); border-radius: 8px;
  background: transparent; font-size: 14px;
}
.lead input:focus { border-color: var(--d-accent); outline: none; }
.lead-status { margin: 0; font-size: 12.5px; }
.lead-status.bad { color: #dc2626; }
.lead-actions { display: flex; justify-content: flex-end; gap: 8px; }
.button {
  height: 32px; padding: 0 14px; border-radius: 8px; font-size: 13px; font-weight: 600;
  border: 1px solid rgba(127, 127, 127, .35); background: transparent;
}
.button.primary { border-color: transparent; background: var(--d-primary); color: var(--d-on-primary); }
.button:disabled { opacity: .5; cursor: default; }
.composer {
  flex: none; display: flex; align-items: flex-end; gap: 8px; margin: 0;
  padding: 10px 12px 6px; border-top: 1px solid rgba(127, 127, 127, .18);
}
.input {
  flex: 1; min-width: 0; height: 40px; max-height: 120px; resize: none; overflow-y: auto;
  padding: 9px 12px; border: 1px solid rgba(127, 127, 127, .4); border-radius: 12px;
  background: transparent; font-size: 14px; line-height: 20px;
}
.input::placeholder { color: inherit; opacity: .5; }
.input:focus { border-color: var(--d-accent); outline: none; box-shadow: 0 0 0 3px rgba(127, 127, 127, .18); box-shadow: 0 0 0 3px color-mix(in srgb, var(--d-accent) 22%, transparent); }
.input:disabled { opacity: .6; }
.send {
  width: 40px; height: 40px; flex: none; display: grid; place-items: center;
  border: 0; border-radius: 12px; background: var(--d-primary); color: var(--d-on-primary);
}
.send svg { width: 20px; height: 20px; }
.send:disabled { opacity: .4; cursor: default; }
.footer { flex: none; display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 2px 14px 10px; font-size: 12px; }
.link-button { padding: 0; border: 0; background: none; color: var(--d-accent); font-size: 12px; text-decoration: underline; text-underline-offset: 2px; }
.brand { opacity: .5; }
@media (max-width: 480px) {
  .root { bottom: 16px; right: 16px; }
  .root.left { left: 16px; }
  .panel { position: fixed; inset: 0; width: 100%; height: 100%; max-height: none; border: 0; border-radius: 0; }
  .open .launcher { display: none; }
  .input, .lead input { font-size: 16px; }
}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation: none !important; transition: none !important; }
}
`;

  // ------------------------------------------------------------------ theme

  /** A colour from the theme, if it is one this browser understands. */
  function themeColor(value, fallback) {
    if (typeof value !== 'string') return fallback;
    const v = value.trim();
    if (!v || v.length > 64 || /var\(|url\(|[;{}]/i.test(v)) return fallback;
    try {
      return CSS.supports('color', v) ? v : fallback;
    } catch (_) {
      return fallback;
    }
  }

  let canvasContext;
  /** [r, g, b] of a CSS colour, over white where it is translucent. */
  function rgbOf(color) {
    try {
      if (!canvasContext) {
        const canvas = document.createElement('canvas');
        canvas.width = 1;
        canvas.height = 1;
        canvasContext = canvas.getContext('2d', { willReadFrequently: true });
      }
      const c = canvasContext;
      c.clearRect(0, 0, 1, 1);
      c.fillStyle = '#ffffff';
      c.fillRect(0, 0, 1, 1);
      c.fillStyle = color;
      c.fillRect(0, 0, 1, 1);
      return Array.from(c.getImageData(0, 0, 1, 1).data.slice(0, 3));
    } catch (_) {
      return null;
    }
  }

  function luminance(rgb) {
    const [r, g, b] = rgb.map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function contrast(a, b) {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  }

  function themeFrom(raw) {
    const t = raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {};
    const primary = themeColor(t.primary_color, DEFAULTS.primary);
    const text = themeColor(t.text_color, DEFAULTS.text);
    const background = themeColor(t.background_color, DEFAULTS.background);
    const label =
      typeof t.launcher_label === 'string' && t.launcher_label.trim()
        ? t.launcher_label.trim().slice(0, 40)
        : DEFAULTS.label;
    let onPrimary = '#ffffff';
    let accent = primary;
    const p = rgbOf(primary);
    const bg = rgbOf(background);
    if (p) {
      const white = [255, 255, 255];
      const ink = [17, 24, 39];
      if (contrast(p, ink) > contrast(p, white)) onPrimary = '#111827';
      if (bg && contrast(p, bg) < 3) accent = text;
    }
    return {
      primary,
      text,
      background,
      onPrimary,
      accent,
      label,
      left: t.position === 'bottom-left',
    };
  }

  // ------------------------------------------------------------- the widget

  function mount() {
    if (document.querySelector(`docent-chat[data-bot-id="${CSS.escape(botId)}"]`)) return;

    const host = document.createElement('docent-chat');
    host.setAttribute('data-bot-id', botId);
    const shadow = host.attachShadow({ mode: 'open' });

    const state = {
      open: false,
      streaming: false,
      forbidden: false,
      name: DEFAULTS.name,
      welcome: DEFAULTS.welcome,
      label: DEFAULTS.label,
      configLoaded: false,
      starting: null,
      started: false,
    };

    // Header
    const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' });
    const nameEl = h('p', { class: 'name' });
    const closeButton = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close chat' }, icon('close'));
    const header = h(
      'div',
      { class: 'header' },
      avatar,
      h('div', { class: 'heading' }, nameEl, h('p', { class: 'tagline' }, 'Answers from our knowledge base')),
      closeButton,
    );

    // Messages
    const welcomeText = h('div', { class: 'text' });
    const list = h(
      'div',
      { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions text', 'data-docent-messages': true },
      h('div', { class: 'msg', 'data-role': 'assistant', 'data-welcome': true }, h('div', { class: 'bubble' }, welcomeText)),
    );

    const notice = h('div', { class: 'notice', role: 'alert', hidden: true });

    // Leave your contact
    const leadEmail = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, maxlength: 254 });
    const leadName = h('input', { type: 'text', name: 'name', autocomplete: 'name', maxlength: 200 });
    const leadPhone = h('input', { type: 'tel', name: 'phone', autocomplete: 'tel', maxlength: 50 });
    const leadStatus = h('p', { class: 'lead-status', role: 'status', hidden: true });
    const leadCancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
    const leadSubmit = h('button', { type: 'submit', class: 'button primary' }, 'Send');
    const leadForm = h(
      'form',
      { class: 'lead', 'data-docent-lead': true, novalidate: true, hidden: true, 'aria-label': 'Leave your contact' },
      h('p', { class: 'lead-title' }, "Leave your contact and we'll get back to you."),
      h('label', {}, 'Email', leadEmail),
      h('label', {}, 'Name (optional)', leadName),
      h('label', {}, 'Phone (optional)', leadPhone),
      leadStatus,
      h('div', { class: 'lead-actions' }, leadCancel, leadSubmit),
    );

    // Composer
    const input = h('textarea', {
      class: 'input',
      rows: 1,
      maxlength: 4000,
      'aria-label': 'Your message',
      placeholder: 'Ask a question…',
      'data-docent-input': true,
    });
    const sendButton = h('button', { type: 'submit', class: 'send', 'aria-label': 'Send message', 'data-docent-send': true }, icon('send'));
    const composer = h('form', { class: 'composer' }, input, sendButton);

    const leadToggle = h('button', { type: 'button', class: 'link-button', 'aria-expanded': 'false', 'data-docent-lead-toggle': true }, 'Leave your contact');
    const footer = h('div', { class: 'footer' }, leadToggle, h('span', { class: 'brand' }, 'Powered by Docent'));

    const panel = h(
      'div',
      { class: 'panel', id: 'docent-panel', role: 'dialog', 'aria-modal': 'false', hidden: true },
      header,
      list,
      notice,
      leadForm,
      composer,
      footer,
    );

    const launcherLabel = h('span', { class: 'launcher-label' });
    const launcherIcon = h('span', { class: 'launcher-icon' }, icon('chat', true));
    const launcher = h(
      'button',
      { type: 'button', class: 'launcher', 'data-docent-launcher': true, 'aria-expanded': 'false', 'aria-controls': 'docent-panel' },
      launcherIcon,
      launcherLabel,
    );

    const root = h('div', { class: 'root', hidden: true }, launcher, panel);
    shadow.append(h('style', {}, STYLE), root);
    document.body.appendChild(host);

    // ---------------------------------------------------------- appearance

    function applyConfig(config) {
      const c = config && typeof config === 'object' ? config : {};
      if (typeof c.name === 'string' && c.name.trim()) state.name = c.name.trim().slice(0, 80);
      if (typeof c.welcome_message === 'string' && c.welcome_message.trim()) state.welcome = c.welcome_message.trim();
      const theme = themeFrom(c.theme);
      root.style.setProperty('--d-primary', theme.primary);
      root.style.setProperty('--d-text', theme.text);
      root.style.setProperty('--d-bg', theme.background);
      root.style.setProperty('--d-on-primary', theme.onPrimary);
      root.style.setProperty('--d-accent', theme.accent);
      root.classList.toggle('left', theme.left);
      state.label = theme.label;
      nameEl.textContent = state.name;
      avatar.textContent = Array.from(state.name)[0].toUpperCase();
      welcomeText.textContent = state.welcome;
      panel.setAttribute('aria-label', state.name);
      launcherLabel.textContent = state.label;
      launcher.setAttribute(
        'aria-label',
        state.label === DEFAULTS.label ? `Chat with ${state.name}` : `${state.label} (chat with ${state.name})`,
      );
    }

    function nearBottom() {
      return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    }

    function scrollToEnd() {
      list.scrollTop = list.scrollHeight;
    }

    /** The send button works when no answer is streaming and the first open has settled. */
    function refreshControls() {
      sendButton.disabled = state.streaming || state.forbidden || Boolean(state.starting);
    }

    function showNotice(text, retry) {
      notice.textContent = '';
      notice.append(h('div', {}, text));
      if (retry) {
        const button = h('button', { type: 'button', class: 'small-button' }, 'Try again');
        button.addEventListener('click', retry);
        notice.append(button);
      }
      notice.hidden = false;
    }

    function hideNotice() {
      notice.hidden = true;
      notice.textContent = '';
      notice.removeAttribute('data-docent-notice');
    }

    function becomeForbidden() {
      state.forbidden = true;
      showNotice(describe(new Problem('forbidden')));
      notice.setAttribute('data-docent-notice', 'forbidden');
      input.disabled = true;
      input.setAttribute('placeholder', 'Chat is not available here');
      sendButton.disabled = true;
      leadToggle.hidden = true;
      leadForm.hidden = true;
    }

    // ------------------------------------------------------------ messages

    /** `[n]`, `[n, m]`, **bold** and `code` in an answer, as DOM nodes. */
    const INLINE = /\*\*([^*\n]+?)\*\*|`([^`\n]+)`|\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;

    function citeLink(n, citation) {
      const title = (citation && citation.title) || `Source ${n}`;
      const link = h('a', { class: 'docent-cite', title, 'aria-label': `Source ${n}: ${title}` }, String(n));
      const url = safeUrl(citation && citation.source_url);
      if (url) {
        link.setAttribute('href', url);
        link.setAttribute('target', '_blank');
        link.setAttribute('rel', 'noopener noreferrer');
      }
      return link;
    }

    function renderText(target, text, byN) {
      target.textContent = '';
      const source = String(text || '')
        .replace(/^[ \t]*#{1,6}[ \t]+/gm, '')
        .replace(/^([ \t]*)[-*][ \t]+/gm, '$1• ');
      let last = 0;
      for (const m of source.matchAll(INLINE)) {
        if (m.index > last) target.append(source.slice(last, m.index));
        if (m[1] != null) {
          target.append(h('strong', {}, m[1]));
        } else if (m[2] != null) {
          target.append(h('code', {}, m[2]));
        } else {
          const ns = m[3].split(',').map((s) => Number(s.trim()));
          if (ns.every((n) => byN.has(n))) ns.forEach((n) => target.append(citeLink(n, byN.get(n))));
          else target.append(m[0]);
        }
        last = m.index + m[0].length;
      }
      if (last < source.length) target.append(source.slice(last));
    }

    /**
     * The answer with the sentences the grounding check flagged (text the
     * server names exactly, in order) marked discreetly: a dotted underline,
     * a tooltip and words for screen readers.
     */
    function renderAnswer(target, text, byN, flagged) {
      if (!flagged.length) return renderText(target, text, byN);
      target.textContent = '';
      let rest = String(text || '');
      const plain = (piece) => {
        const span = h('span');
        renderText(span, piece, byN);
        target.append(span);
      };
      for (const sentence of flagged) {
        const at = rest.indexOf(sentence);
        if (at < 0) continue;
        if (at > 0) plain(rest.slice(0, at));
        const mark = h('span', { class: 'unsupported', title: 'Not found in the cited sources', 'data-docent-unsupported': true });
        renderText(mark, sentence, byN);
        mark.append(h('span', { class: 'hidden-note' }, ' (not found in the cited sources)'));
        target.append(mark);
        rest = rest.slice(at + sentence.length);
      }
      if (rest) plain(rest);
    }

    const flaggedOf = (stored) => {
      const g = stored && stored.grounding;
      return g && g.action === 'flag' && Array.isArray(g.flagged)
        ? g.flagged.filter((f) => typeof f === 'string' && f)
        : [];
    };

    function sourcesList(citations) {
      const ol = h('ol');
      for (const c of citations) {
        const url = safeUrl(c.source_url);
        let label = c.title || 'Untitled';
        if (c.heading && c.heading !== c.title) label += ` — ${c.heading}`;
        if (c.page) label += `, p. ${c.page}`;
        const tip = typeof c.snippet === 'string' ? c.snippet.slice(0, 300) : null;
        const title = url
          ? h('a', { class: 'source-title', href: url, target: '_blank', rel: 'noopener noreferrer', title: tip }, label)
          : h('span', { class: 'source-title', title: tip }, label);
        ol.append(h('li', { 'data-n': c.n }, h('span', { class: 'source-n' }, String(c.n)), title));
      }
      return h('div', { class: 'sources', 'data-docent-sources': true }, h('p', { class: 'sources-title' }, 'Sources'), ol);
    }

    const citationList = (value) =>
      Array.isArray(value)
        ? value.filter((c) => c && typeof c === 'object' && Number.isInteger(c.n)).sort((a, b) => a.n - b.n)
        : [];

    function addUser(text) {
      const msg = h('div', { class: 'msg', 'data-role': 'user' }, h('div', { class: 'bubble' }, h('div', { class: 'text' }, text)));
      list.append(msg);
      return msg;
    }

    /** An assistant bubble: streamed into, then finished or failed. */
    function addAssistant(streaming) {
      const text = h('div', { class: 'text' });
      const bubble = h('div', { class: 'bubble' }, text);
      const msg = h('div', { class: 'msg', 'data-role': 'assistant', 'data-state': streaming ? 'streaming' : 'done' }, bubble);
      const byN = new Map();
      let answer = '';
      let flagged = [];
      let frame = 0;
      let typing = null;
      if (streaming) {
        msg.setAttribute('aria-busy', 'true');
        typing = h('div', { class: 'typing', 'aria-hidden': 'true' }, h('span'), h('span'), h('span'));
        bubble.append(typing);
      }
      list.append(msg);

      const render = () => {
        frame = 0;
        const follow = nearBottom();
        if (typing && answer) {
          typing.remove();
          typing = null;
        }
        renderAnswer(text, answer, byN, flagged);
        if (follow) scrollToEnd();
      };
      const cite = (citations) => citationList(citations).forEach((c) => byN.set(c.n, c));
      const settle = (state) => {
        if (frame) cancelAnimationFrame(frame);
        if (typing) {
          typing.remove();
          typing = null;
        }
        render();
        msg.setAttribute('data-state', state);
        msg.removeAttribute('aria-busy');
      };

      return {
        el: msg,
        candidates: cite,
        append(delta) {
          if (typeof delta !== 'string' || !delta) return;
          answer += delta;
          if (!frame) frame = requestAnimationFrame(render);
        },
        finish(full, citations, stored) {
          if (typeof full === 'string') answer = full;
          flagged = flaggedOf(stored);
          const cited = citationList(citations);
          cite(cited);
          settle('done');
          if (cited.length) bubble.append(sourcesList(cited));
          if (stored && typeof stored.id === 'string') bubble.append(feedbackRow(stored));
          if (nearBottom()) scrollToEnd();
        },
        fail(problem, retry) {
          settle('error');
          if (!answer) text.remove();
          bubble.append(h('p', { class: 'problem' }, describe(problem)));
          if (retry && canRetry(problem)) {
            const button = h('button', { type: 'button', class: 'small-button' }, 'Try again');
            button.addEventListener('click', () => {
              if (state.streaming) return;
              msg.remove();
              retry();
            });
            bubble.append(button);
          }
          scrollToEnd();
        },
      };
    }

    /** Thumbs up and down on a stored answer; a second press changes the verdict. */
    function feedbackRow(stored) {
      const row = h('div', { class: 'feedback', role: 'group', 'aria-label': 'Was this answer helpful?' });
      let current = stored.feedback && stored.feedback.rating;
      const buttons = {};
      const show = () => {
        for (const [rating, b] of Object.entries(buttons)) b.setAttribute('aria-pressed', String(rating === current));
      };
      for (const [rating, label, name] of [['up', 'Helpful', 'up'], ['down', 'Not helpful', 'downvote']]) {
        const b = h('button', { type: 'button', 'aria-label': label, title: label }, icon(name, false));
        b.addEventListener('click', async () => {
          if (current === rating) return;
          const before = current;
          current = rating;
          show();
          try {
            const res = await authed(`/chat/messages/${encodeURIComponent(stored.id)}/feedback`, jsonPost({ rating }));
            if (!res.ok) throw await problemFrom(res);
          } catch (_) {
            current = before;
            show();
          }
        });
        buttons[rating] = b;
        row.append(b);
      }
      show();
      return row;
    }

    function addNote(text) {
      list.append(h('div', { class: 'note', role: 'status' }, text));
      scrollToEnd();
    }

    // --------------------------------------------------------------- flows

    async function loadConfig() {
      try {
        const res = await request(
          configUrl,
          { headers: { Accept: 'application/json' }, credentials: consoleConfig ? 'same-origin' : 'omit' },
          'forbidden',
        );
        if (res.status === 404) return null;
        if (!res.ok) return {};
        state.configLoaded = true;
        return await res.json();
      } catch (e) {
        // Refused (an origin the bot does not allow: no use asking again) or
        // unreachable: show the launcher anyway; opening it says what is wrong.
        if (e instanceof Problem && e.kind === 'forbidden') state.configLoaded = true;
        return {};
      }
    }

    /** Restores the stored conversation, if there is one. */
    async function restore() {
      const session = store.get(KEY_SESSION);
      if (!session) return;
      const res = await authed(`/chat/sessions/${encodeURIComponent(session)}/messages`, {
        headers: { Accept: 'application/json' },
      });
      if (res.status === 404 || res.status === 403) {
        store.remove(KEY_SESSION);
        return;
      }
      if (!res.ok) throw await problemFrom(res);
      const body = await res.json().catch(() => ({}));
      const messages = Array.isArray(body && body.messages) ? body.messages : [];
      for (const m of messages) {
        if (!m || typeof m.content !== 'string') continue;
        if (m.role === 'user') addUser(m.content);
        else if (m.role === 'assistant') addAssistant(false).finish(m.content, m.citations, m);
      }
      scrollToEnd();
    }

    /** First open: a token and the earlier conversation. Never rejects. */
    function start() {
      if (state.started || state.forbidden) return Promise.resolve();
      if (!state.starting) {
        state.starting = (async () => {
          try {
            if (!state.configLoaded) {
              const config = await loadConfig();
              if (config) applyConfig(config);
            }
            await token(false);
            await restore();
            state.started = true;
            hideNotice();
          } catch (e) {
            const problem = asProblem(e);
            if (problem.kind === 'forbidden') becomeForbidden();
            else showNotice(describe(problem), () => {
              hideNotice();
              start();
            });
          } finally {
            state.starting = null;
            refreshControls();
          }
        })();
        refreshControls();
      }
      return state.starting;
    }

    async function ask(text, view) {
      const body = { bot_id: botId, message: text, stream: true };
      const session = store.get(KEY_SESSION);
      if (session) body.session_id = session;
      const controller = new AbortController();
      let res = await authed('/chat', { ...jsonPost(body, 'text/event-stream'), signal: controller.signal });
      if (res.status === 404 && session) {
        // The stored conversation is gone: start a new one.
        store.remove(KEY_SESSION);
        delete body.session_id;
        res = await authed('/chat', { ...jsonPost(body, 'text/event-stream'), signal: controller.signal });
      }
      if (!res.ok) throw await problemFrom(res);

      const type = res.headers.get('Content-Type') || '';
      if (!type.includes('text/event-stream') || !res.body) {
        const answer = await res.json().catch(() => null);
        if (!answer || typeof answer.answer !== 'string') throw new Problem('failed');
        if (answer.session_id) store.set(KEY_SESSION, String(answer.session_id));
        view.finish(answer.answer, answer.citations, { id: answer.message_id, grounding: answer.grounding });
        return;
      }

      let ended = false;
      let idle = setTimeout(() => controller.abort(), STREAM_IDLE_MS);
      const activity = () => {
        clearTimeout(idle);
        idle = setTimeout(() => controller.abort(), STREAM_IDLE_MS);
      };
      try {
        await readEvents(
          res.body,
          (name, data) => {
            let payload;
            try {
              payload = JSON.parse(data);
            } catch (_) {
              return false;
            }
            if (!payload || typeof payload !== 'object') return false;
            if (name === 'meta') {
              if (payload.session_id) store.set(KEY_SESSION, String(payload.session_id));
              view.candidates(payload.citations);
            } else if (name === 'delta') {
              view.append(payload.text);
            } else if (name === 'done') {
              ended = true;
              view.finish(null, payload.citations, { id: payload.message_id, grounding: payload.grounding });
              return true;
            } else if (name === 'error') {
              ended = true;
              const error = payload.error || {};
              throw problemFromCode(error.code, error.message);
            }
            return false;
          },
          activity,
        );
      } catch (e) {
        if (e instanceof Problem) throw e;
        throw new Problem('interrupted');
      } finally {
        clearTimeout(idle);
      }
      if (!ended) throw new Problem('interrupted');
    }

    async function send(text, retrying) {
      const question = (text || '').trim();
      if (!question || state.streaming || state.forbidden) return;
      state.streaming = true;
      refreshControls();
      if (state.starting) await state.starting;
      if (state.forbidden) {
        state.streaming = false;
        return;
      }
      if (!retrying) {
        addUser(question);
        input.value = '';
        fitInput();
      }
      hideNotice();
      const view = addAssistant(true);
      scrollToEnd();
      try {
        await ask(question, view);
        state.started = true;
      } catch (e) {
        const problem = asProblem(e);
        if (problem.kind === 'forbidden') {
          view.el.remove();
          becomeForbidden();
        } else {
          view.fail(problem, () => send(question, true));
        }
      } finally {
        state.streaming = false;
        refreshControls();
      }
    }

    async function submitLead(event) {
      event.preventDefault();
      const email = leadEmail.value.trim();
      const status = (text, bad) => {
        leadStatus.textContent = text;
        leadStatus.classList.toggle('bad', Boolean(bad));
        leadStatus.hidden = !text;
      };
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        status('Please enter a valid email address.', true);
        leadEmail.focus();
        return;
      }
      const body = { email };
      const name = leadName.value.trim();
      const phone = leadPhone.value.trim();
      if (name) body.name = name;
      if (phone) body.phone = phone;
      const session = store.get(KEY_SESSION);
      if (session) body.session_id = session;
      leadSubmit.disabled = true;
      status('Sending…');
      try {
        let res = await authed('/leads', jsonPost(body));
        if (res.status === 404 && body.session_id) {
          store.remove(KEY_SESSION);
          delete body.session_id;
          res = await authed('/leads', jsonPost(body));
        }
        if (!res.ok) throw await problemFrom(res);
        status('');
        leadForm.hidden = true;
        leadForm.reset();
        leadToggle.hidden = true;
        addNote(name ? `Thanks, ${name}! We'll be in touch soon.` : "Thanks! We'll be in touch soon.");
        input.focus();
      } catch (e) {
        const problem = asProblem(e);
        if (problem.kind === 'forbidden') becomeForbidden();
        else status(describe(problem), true);
      } finally {
        leadSubmit.disabled = false;
      }
    }

    // ------------------------------------------------------------ controls

    function open() {
      if (state.open) return;
      state.open = true;
      panel.hidden = false;
      root.classList.add('open');
      launcher.setAttribute('aria-expanded', 'true');
      launcherIcon.replaceChildren(icon('down'));
      scrollToEnd();
      (input.disabled ? closeButton : input).focus();
      start();
    }

    function close(returnFocus) {
      if (!state.open) return;
      state.open = false;
      panel.hidden = true;
      root.classList.remove('open');
      launcher.setAttribute('aria-expanded', 'false');
      launcherIcon.replaceChildren(icon('chat', true));
      if (returnFocus) launcher.focus();
    }

    function fitInput() {
      input.style.height = '';
      if (input.scrollHeight > input.clientHeight) input.style.height = `${Math.min(input.scrollHeight + 2, 120)}px`;
    }

    launcher.addEventListener('click', () => (state.open ? close(false) : open()));
    closeButton.addEventListener('click', () => close(true));
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && state.open && !event.isComposing) {
        event.preventDefault();
        event.stopPropagation();
        close(true);
      }
    });
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      send(input.value);
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        send(input.value);
      }
    });
    input.addEventListener('input', fitInput);
    leadToggle.addEventListener('click', () => {
      leadForm.hidden = !leadForm.hidden;
      leadToggle.setAttribute('aria-expanded', String(!leadForm.hidden));
      if (!leadForm.hidden) leadEmail.focus();
    });
    leadCancel.addEventListener('click', () => {
      leadForm.hidden = true;
      leadToggle.setAttribute('aria-expanded', 'false');
      leadToggle.focus();
    });
    leadForm.addEventListener('submit', submitLead);

    applyConfig({});
    loadConfig().then((config) => {
      if (config === null) {
        console.warn(`[docent] bot ${botId} was not found or is not public: the chat widget stays hidden`);
        host.remove();
        return;
      }
      applyConfig(config);
      root.hidden = false;
    });
  }

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
