// The console's small script. Every page works without it; with it, files
// dropped or chosen are uploaded one request each with their own progress
// bar, snippets copy with a button, and deletions ask first.
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
});

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
