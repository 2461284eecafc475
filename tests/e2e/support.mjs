// What the end-to-end tests share: the docent binary they run, Chromium's
// path and flags, polling, free ports, and `docent serve` started with a
// fresh data dir and none of the caller's configuration.

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.resolve(repoRoot, process.env.DOCENT_BIN || 'target/debug/docent');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Polls `probe` until it returns something truthy; never sleeps blindly. */
export async function until(what, probe, timeoutMs, intervalMs = 150) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (e) {
      if (e.fatal) throw e;
      lastError = e;
    }
    await delay(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`,
  );
}

/** A port nobody listens on right now (the server is told to use it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** `docent serve` on 127.0.0.1:port with a fresh data dir; answers come from `modelBase`'s model if given, else are extractive; `extraEnv` adds settings. */
export function startDocent(port, dataDir, modelBase, extraEnv = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Nothing from the caller's configuration leaks in: no other model,
    // database or storage.
    if (key.startsWith('DOCENT_') || key === 'OPENAI_API_KEY') continue;
    env[key] = value;
  }
  env.DOCENT_EMBEDDER = 'hash';
  if (modelBase) env.DOCENT_LLM_BASE_URL = modelBase;
  env.DOCENT_LOG = 'warn';
  Object.assign(env, extraEnv);
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    cwd: dataDir, // so no docent.toml of the caller's is read
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  const keep = (chunk) => {
    output.push(chunk.toString());
    if (output.length > 400) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exit = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
    child.on('error', (error) => {
      exit = { error };
      resolve();
    });
  });
  const killNow = () => {
    if (!exit) child.kill('SIGKILL');
  };
  process.on('exit', killNow);
  return {
    log: () => output.join('').slice(-6000),
    exit: () => exit,
    async stop() {
      process.off('exit', killNow);
      if (exit) return;
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), delay(10000, false, { ref: false })]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
