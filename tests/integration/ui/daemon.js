// The real tracecol daemon for the browser test: started on a socket in a temp dir with
// HTTP on 127.0.0.1:0 (the bound address read from its "http listening on ADDR" stderr
// line), fed protocol lines over the Unix socket, stopped with SIGTERM (SIGKILL as a last
// resort, also when node exits early).
'use strict';

const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

/** Resolves when predicate() is truthy; rejects after timeoutMs with what. No fixed sleeps. */
function waitFor(predicate, timeoutMs, what, emitter, eventName) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const value = predicate();
      if (value) { cleanup(); resolve(value); }
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
    const cleanup = () => { clearTimeout(timer); if (emitter) emitter.off(eventName, check); };
    if (emitter) emitter.on(eventName, check);
    check();
  });
}

class Daemon {
  constructor(binary, dir, extraArgs) {
    this.socketPath = path.join(dir, 'tracecol.sock');
    this.stderr = '';
    this.exited = null;
    const args = ['--socket', this.socketPath, '--http-listen', '127.0.0.1:0', '--export-file', path.join(dir, 'traces.ndjson'),
      '--log-level', 'info', ...extraArgs];
    this.child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk) => { this.stderr += chunk; });
    this.child.on('exit', (code, signal) => { this.exited = { code, signal }; });
    this.killOnExit = () => { if (!this.exited) this.child.kill('SIGKILL'); };
    process.on('exit', this.killOnExit);
  }

  /** The bound HTTP address ("127.0.0.1:43187") once the daemon listens on both. */
  async ready(timeoutMs) {
    const address = await waitFor(() => {
      if (this.exited) throw new Error(`tracecol exited early (${JSON.stringify(this.exited)}): ${this.stderr}`);
      const m = /http listening on (\S+)/.exec(this.stderr);
      return m && /listening on unix:/.test(this.stderr) ? m[1] : null;
    }, timeoutMs, 'the daemon to listen', this.child.stderr, 'data');
    this.baseUrl = `http://${address}`;
    return this.baseUrl;
  }

  /** Sends lines on one connection, then a flush; resolves once the daemon applied them all. */
  send(lines) {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(this.socketPath);
      let answer = '';
      const id = Math.floor(Math.random() * 1e9);
      sock.setEncoding('utf8');
      sock.on('error', reject);
      sock.on('data', (chunk) => {
        answer += chunk;
        const nl = answer.indexOf('\n');
        if (nl < 0) return;
        const flushed = JSON.parse(answer.slice(0, nl));
        sock.end();
        if (flushed.type !== 'flushed' || flushed.id !== id) reject(new Error(`unexpected answer ${answer}`));
        else if (flushed.rejected !== 0) reject(new Error(`daemon rejected ${flushed.rejected} lines: ${flushed.last_error}`));
        else resolve(flushed);
      });
      sock.on('connect', () => {
        // Large writes in few calls (the daemon reads 64 KiB at a time).
        const chunks = [];
        let size = 0;
        let part = [];
        for (const line of lines) {
          part.push(line);
          size += line.length + 1;
          if (size > 256 * 1024) { chunks.push(`${part.join('\n')}\n`); part = []; size = 0; }
        }
        part.push(JSON.stringify({ type: 'flush', id }));
        chunks.push(`${part.join('\n')}\n`);
        for (const c of chunks) sock.write(c);
      });
    });
  }

  async stop(timeoutMs) {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      try {
        await waitFor(() => this.exited, timeoutMs, 'the daemon to exit', this.child, 'exit');
      } catch (e) {
        this.child.kill('SIGKILL');
        await waitFor(() => this.exited, 5000, 'the daemon to die', this.child, 'exit');
        throw e;
      }
    }
    process.off('exit', this.killOnExit);
    return this.exited;
  }
}

module.exports = { Daemon, waitFor };
