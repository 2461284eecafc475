// The console's small script. Every page works without it; with it, files
// dropped or chosen are uploaded one request each with their own progress
// bar, snippets copy with a button, deletions ask first, and the
// playground streams answers and shows what retrieval did for each, and the
// widget preview follows the colour picker.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  for (const button of document.querySelectorAll('[data-copy]')) {
    button.addEventListener('click', async () => {
      const source = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = 'Copied';
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = 'Selected: press Ctrl+C';
      }
    });
  }

  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  for (const form of document.querySelectorAll('form[data-upload]')) upload(form);
  for (const root of document.querySelectorAll('[data-playground]')) playground(root);
  for (const root of document.querySelectorAll('[data-crawl]')) watchCrawl(root);
  for (const frame of document.querySelectorAll('iframe[data-preview]')) preview(frame);
});

/** Reloads the widget preview with the theme being edited, once it rests. */
function preview(frame) {
  const inputs = document.querySelectorAll('[data-theme]');
  const base = frame.getAttribute('src');
  let timer = null;
  let shown = '';
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const query = new URLSearchParams();
      for (const input of inputs) query.set(input.name, input.value);
      // A change event after the input events (on leaving the field) shows nothing new.
      if (String(query) === shown) return;
      shown = String(query);
      frame.src = `${base}?${query}`;
    }, 300);
  };
  for (const input of inputs) {
    input.addEventListener('input', reload);
    input.addEventListener('change', reload);
  }
}

/** Updates a crawl's figures once a second until it is finished. */
function watchCrawl(root) {
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const bar = root.querySelector('progress');
  const tick = async () => {
    let state;
    try {
      const res = await fetch(root.dataset.crawl, { headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error(`the server answered ${res.status}`);
      state = await res.json();
    } catch (error) {
      field('error').textContent = `Progress is not updating: ${error.message}`;
      setTimeout(tick, 3000);
      return;
    }
    for (const name of ['status', 'done', 'total', 'queued', 'processing', 'ready', 'failed']) {
      field(name).textContent = String(state[name]);
    }
    field('error').textContent = state.error || '';
    bar.max = Math.max(state.total, 1);
    bar.value = state.done;
    if (state.finished) field('finished').hidden = false;
    else setTimeout(tick, 1000);
  };
  tick();
}

/** An element with a class and text. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

/** Calls `onEvent(name, data)` for each server-sent event of `body`. */
async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(0), { stream: !done });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trim());
      }
      if (data.length) onEvent(name, JSON.parse(data.join('\n')));
    }
    if (done) return;
  }
}

const score = (x) => (typeof x === 'number' ? x.toFixed(3) : '–');

/** The cited passages, each opening to its text. */
function citations(list) {
  const ol = el('ol', 'citations');
  for (const c of list || []) {
    const details = el('details');
    details.append(el('summary', null, `[${c.n}] ${c.title}${c.page ? `, p. ${c.page}` : ''} — score ${score(c.score)}`));
    details.append(el('p', 'passage', c.snippet));
    const item = el('li');
    item.append(details);
    ol.append(item);
  }
  return ol;
}

/** What retrieval did for one answer, from its trace. */
function candidates(trace) {
  const r = trace.retrieval;
  const box = el('details', 'retrieval');
  box.dataset.candidates = '';
  const ms = trace.timings_ms && trace.timings_ms.total;
  box.append(el('summary', null, `What retrieval did: ${r.mode}, top ${r.top_k}, floor ${score(r.floor)} (${r.floor_source})${r.reranked ? ', reranked' : ''}; ${trace.decision.reason}${ms ? `, ${Math.round(ms)} ms` : ''}`));
  const wrap = el('div', 'scroll');
  const table = el('table', 'list');
  const head = el('tr');
  for (const h of ['#', 'Passage', 'Keyword rank', 'BM25', 'Vector rank', 'Cosine', 'Fused', 'Rerank', 'Outcome']) {
    const th = el('th', null, h);
    th.scope = 'col';
    head.append(th);
  }
  const thead = el('thead');
  thead.append(head);
  const tbody = el('tbody');
  r.candidates.forEach((c, i) => {
    const row = el('tr');
    row.dataset.outcome = c.outcome;
    for (const v of [i + 1, c.title, c.keyword_rank ?? '–', score(c.keyword_score), c.vector_rank ?? '–', score(c.cosine), score(c.fused), score(c.rerank), c.outcome.replaceAll('_', ' ')]) {
      row.append(el('td', null, String(v)));
    }
    tbody.append(row);
  });
  table.append(thead, tbody);
  wrap.append(table);
  box.append(wrap);
  return box;
}

function playground(root) {
  const form = root.querySelector('form.ask');
  const log = root.querySelector('.log');
  const input = form.querySelector('textarea');
  const session = form.querySelector('input[name=session_id]');
  const csrf = form.querySelector('input[name=csrf]').value;
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    input.value = '';
    log.append(el('li', 'turn user', question));
    const turn = el('li', 'turn assistant');
    const text = el('p', 'answer');
    turn.append(text);
    turn.setAttribute('aria-busy', 'true');
    log.append(turn);
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: 'POST',
        headers: { Accept: 'text/event-stream' },
        body: new URLSearchParams({ csrf, message: question, session_id: session.value }),
      });
      if (!res.ok) {
        const problem = await res.json().catch(() => ({}));
        throw new Error(problem.message || `the server answered ${res.status}`);
      }
      let done = null;
      await readEvents(res.body, (name, data) => {
        if (name === 'meta') session.value = data.session_id;
        else if (name === 'delta') text.textContent += data.text;
        else if (name === 'done') done = data;
        else if (name === 'error') throw new Error(data.error.message);
      });
      if (!done) throw new Error('the answer stopped before it was complete');
      turn.dataset.messageId = done.message_id;
      if (!done.answered) turn.append(el('p', 'note', 'Declined: no passage was relevant enough.'));
      const flagged = done.grounding && done.grounding.unsupported.length;
      if (flagged) turn.append(el('p', 'note', `${flagged} sentence(s) not found in the cited sources.`));
      if (done.citations.length) turn.append(citations(done.citations));
      const trace = await fetch(`/app/messages/${encodeURIComponent(done.message_id)}/trace`);
      if (trace.ok) turn.append(candidates(await trace.json()));
      turn.append(vote(done.message_id, csrf));
    } catch (error) {
      turn.append(el('p', 'notice error', error.message));
    } finally {
      turn.removeAttribute('aria-busy');
      button.disabled = false;
      input.focus();
    }
  });
}

/** The vote under a streamed answer, sent without leaving the page. */
function vote(messageId, csrf) {
  const form = el('form', 'vote');
  form.method = 'post';
  form.action = `/app/messages/${encodeURIComponent(messageId)}/feedback`;
  const label = el('label', null, 'Comment (optional)');
  const comment = el('input');
  comment.name = 'comment';
  comment.maxLength = 2000;
  comment.id = `comment-${messageId}`;
  label.htmlFor = comment.id;
  form.append(label, comment);
  const status = el('p', 'note');
  status.setAttribute('role', 'status');
  for (const [rating, text] of [['up', 'Helpful'], ['down', 'Not helpful']]) {
    const button = el('button', 'secondary', text);
    button.type = 'submit';
    button.value = rating;
    form.append(button);
  }
  form.append(status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const rating = event.submitter ? event.submitter.value : 'up';
    const res = await fetch(form.action, {
      method: 'POST',
      headers: { Accept: 'application/json' },
      body: new URLSearchParams({ csrf, rating, comment: comment.value }),
    }).catch(() => null);
    const body = res ? await res.json().catch(() => ({})) : {};
    status.textContent = res && res.ok
      ? `Thanks: recorded as ${rating === 'up' ? 'helpful' : 'not helpful'}.`
      : body.message || 'The vote could not be sent.';
  });
  return form;
}

/** One file, one request: resolves with the server's message, or throws it. */
function send(form, file, bar) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    body.append('csrf', form.querySelector('input[name=csrf]').value);
    body.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) bar.value = e.loaded / e.total;
    });
    xhr.addEventListener('load', () => {
      let message = `${file.name}: the server answered ${xhr.status}`;
      try {
        message = JSON.parse(xhr.responseText).message || message;
      } catch (_) { /* keep the status */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(message);
      else reject(new Error(message));
    });
    xhr.addEventListener('error', () => reject(new Error(`${file.name}: the upload failed (network)`)));
    xhr.send(body);
  });
}

function upload(form) {
  const input = form.querySelector('input[type=file]');
  const list = form.querySelector('.progress');
  const run = async (files) => {
    if (!files.length) return;
    list.textContent = '';
    let failed = 0;
    for (const file of files) {
      const bar = document.createElement('progress');
      bar.max = 1;
      bar.value = 0;
      bar.setAttribute('aria-label', `Upload of ${file.name}`);
      const item = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = file.name;
      item.append(name, bar);
      list.append(item);
      try {
        await send(form, file, bar);
        bar.value = 1;
        item.dataset.state = 'done';
        name.textContent = `${file.name}: uploaded, ingesting`;
      } catch (error) {
        failed += 1;
        item.className = 'failed';
        item.dataset.state = 'failed';
        name.textContent = error.message;
      }
    }
    if (!failed) window.location.reload();
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(Array.from(input.files));
  });
  form.addEventListener('dragover', (event) => {
    event.preventDefault();
    form.classList.add('over');
  });
  form.addEventListener('dragleave', () => form.classList.remove('over'));
  form.addEventListener('drop', (event) => {
    event.preventDefault();
    form.classList.remove('over');
    run(Array.from(event.dataTransfer.files));
  });
}
