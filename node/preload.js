'use strict';
/*
 * pmx's Node preload  --  pmxd starts every Node instance (fork and cluster
 * mode; not with `pmx: false` / --no-pmx, then in cluster mode only for the
 * sockets) as `node [node_args] --require <pmx-node-preload.js> app.js [args]`
 *
 * Three parts, each on only when pmxd asks for it in the environment:
 *
 * Runtime metrics (PMX_METRICS=1): once a second, cheap calls only
 * (v8.getHeapStatistics, the counts of active handles and requests, and the
 * percentiles of a perf_hooks.monitorEventLoopDelay histogram, which libuv
 * fills without JS timer drift), sent over the IPC channel as
 *   child -> daemon {"cmd":"NODE_PMX","pmx":"metrics","heap_total":<bytes>,
 *                    "heap_used":<bytes>,"handles":n,"requests":n,
 *                    "loop":{"p50":ms,"p95":ms,"p99":ms,"max":ms},"errors":n}
 * (loop: the delay beyond the histogram's resolution over the last second).
 * Its timer is unref'd, it adds no listener, and a failure inside it is
 * swallowed and counted ("errors"): the preload never keeps an app alive or
 * breaks it.
 *
 * Drain before the app's own shutdown (PMX_DRAIN=1, every Node app but `pmx: false`
 * ones): when pmx's stop signal comes to an app with a handler of its own, its http and
 * https servers are drained first (stop accepting, Connection: close, idle connections
 * closed after a grace), then the app's handler runs: its server.close(), fastify.close()
 * or exit loses no request a client has sent. Details at pmxAppDrain below.
 *
 * Shared sockets (PMX_CLUSTER=1): makes N unmodified instances of a Node app share ONE listening socket that
 * is bound by the pmx daemon (pmxd) and handed to every instance over the Node
 * IPC channel (NODE_CHANNEL_FD, JSON serialization, SCM_RIGHTS).
 *
 * Does nothing at all unless PMX_CLUSTER=1 AND Node set up an IPC channel
 * (process.send exists). Node 18-22, no dependencies.
 *
 * Protocol (all pmx messages carry cmd:'NODE_PMX'; the 'NODE_' prefix makes
 * Node route them to process 'internalMessage' instead of 'message', so the
 * app never sees them and they do not ref the channel):
 *
 *   child -> daemon {"cmd":"NODE_PMX","pmx":"listen","id":1,"address":"127.0.0.1",
 *                    "port":3000,"addressType":4,"index":0,"backlog":511,...}
 *   daemon -> child {"cmd":"NODE_HANDLE","type":"net.Native",
 *                    "msg":{"cmd":"NODE_PMX","pmx":"listen","id":1}}   + fd (SCM_RIGHTS)
 *      or (error)   {"cmd":"NODE_PMX","pmx":"listen","id":1,"errno":-98}  (no fd)
 *   child -> daemon {"cmd":"NODE_HANDLE_ACK"}           (sent by Node core itself)
 *   child -> daemon {"cmd":"NODE_PMX","pmx":"listening","id":1,"address":{...}}
 *   daemon -> child {"cmd":"NODE_PMX","pmx":"shutdown"}  (optional, = PM2 'shutdown')
 *   child -> daemon {"cmd":"NODE_PMX","pmx":"draining"} / {"pmx":"drained"}
 *
 * Env:
 *   PMX_METRICS=1            runtime metrics (deleted at startup, as PMX_CLUSTER)
 *   PMX_CLUSTER=1            enable (deleted at startup, so the app's own children
 *                            - e.g. child_process.fork() inheriting execArgv -
 *                            do not act on it)
 *   PMX_DRAIN=1              drain before the app's own stop handler (deleted at startup)
 *   PMX_DRAIN_SIGNALS        default "SIGINT,SIGTERM"
 *   PMX_DRAIN_TIMEOUT        ms, exit at this deadline even if not drained (pmxd sets
 *                            it below the app's kill_timeout; default 8000)
 *   PMX_DRAIN_IDLE_GRACE     ms, how long idle keep-alive connections get to send one more
 *                            request (answered with Connection: close) before being
 *                            closed (default 1000, capped at 1/2 of the timeout)
 *   PMX_DEBUG=1              log to stderr
 */
(function pmxMetrics() {
  if (process.env.PMX_METRICS !== '1') return;
  delete process.env.PMX_METRICS;
  if (typeof process.send !== 'function' || !process.channel) return;

  let errors = 0;
  let v8, histogram = null;
  // Values are in ns and include the timer's own period: the delay is what lies beyond it.
  const resolutionMs = 20;
  try {
    v8 = require('v8');
    histogram = require('perf_hooks').monitorEventLoopDelay({ resolution: resolutionMs });
    histogram.enable();
  } catch {
    errors++;
  }
  let windowStart = process.hrtime.bigint();
  const delay = (ns) => Math.max(0, Math.round((ns / 1e6 - resolutionMs) * 100) / 100);
  const count = (name, alt) => {
    if (typeof process[name] === 'function') return process[name]().length;
    if (alt && typeof process.getActiveResourcesInfo === 'function') return process.getActiveResourcesInfo().length;
    return 0;
  };

  function report() {
    try {
      if (process.connected !== true) return;
      const msg = { cmd: 'NODE_PMX', pmx: 'metrics', errors };
      if (v8) {
        const heap = v8.getHeapStatistics();
        msg.heap_total = heap.total_heap_size;
        msg.heap_used = heap.used_heap_size;
      }
      msg.handles = count('_getActiveHandles', true);
      msg.requests = count('_getActiveRequests', false);
      if (histogram && histogram.count > 0) {
        // reset() drops the first delay after it (Node zeroes the histogram's previous tick), so
        // a stall right after a report would never be seen: that delay is the part of the window
        // the recorded ones do not cover, counted here as one more sample.
        const now = process.hrtime.bigint();
        const windowNs = Number(now - windowStart);
        const dropped = Math.max(0, windowNs - histogram.count * histogram.mean);
        const max = Math.max(histogram.max, dropped);
        let p99 = histogram.percentile(99);
        if (histogram.count < 99) p99 = Math.max(p99, dropped);  // one sample in 100 is p99
        msg.loop = {
          p50: delay(histogram.percentile(50)), p95: delay(histogram.percentile(95)),
          p99: delay(p99), max: delay(max),
        };
        histogram.reset();
        windowStart = now;
      }
      // Always a callback: without one, a send on a closing channel emits 'error' on process.
      process.send(msg, null, {}, (err) => { if (err) errors++; });
    } catch {
      errors++;
    }
  }
  const timer = setInterval(report, 1000);
  if (timer && typeof timer.unref === 'function') timer.unref();
})();

// Set on the preload's own signal listeners, so that counting "the app's listeners" skips them.
const kPmxOwn = Symbol('pmx.own');

/*
 * Draining before the app's own shutdown during a pmx stop (PMX_DRAIN=1: every Node app run
 * with the preload, fork and cluster mode; not with `pmx: false` / --no-pmx).
 *
 * Node >= 19's http(s).Server#close() calls closeIdleConnections() at once: a keep-alive
 * connection that is idle on the server's side may carry a request the client has already
 * sent, and the client gets a reset instead of a response. Frameworks add their own: fastify
 * answers 503 to every request once it is closing, Next.js's server exits at once. All of them
 * go through the app's handler of the stop signal. So when a stop signal (PMX_DRAIN_SIGNALS)
 * comes to an app that has a listener of its own for it, and the app has http/https servers
 * listening, the preload drains them first and only then hands the signal to the app's
 * listeners, in their own order:
 *   - stop accepting (net.Server#close: in cluster mode only this instance's copy of the
 *     socket, which pmxd and the other instances keep serving);
 *   - every response not yet started, and every later request's, says Connection: close, so
 *     Node closes that connection after it and the client reconnects elsewhere;
 *   - a connection is closed without a response only once it has been idle (no request begun)
 *     for the idle grace (PMX_DRAIN_IDLE_GRACE), all idle ones at the drain timeout;
 *   - the signal goes on to the app once every connection is closed, or at half the drain
 *     timeout, so the app's own shutdown still has time before kill_timeout's SIGKILL.
 * The app's server.close(cb) on a server drained or draining this way waits for the drain and
 * calls cb without an error, and closeIdleConnections() is left to the drain's sweeps until the
 * process ends. A second stop signal goes to the app at once. The same runs before the app is
 * handed pmx's 'shutdown' message (cluster mode). Every step is guarded: on a failure the
 * signal goes to the app at once, as without the preload.
 */
const pmxAppDrain = (function pmxAppDrain() {
  const off = { stop(next) { next(); } };
  if (process.env.PMX_DRAIN !== '1') return off;
  delete process.env.PMX_DRAIN;
  const debug = process.env.PMX_DEBUG === '1' ?
    (...a) => process._rawDebug('[pmx ' + process.pid + '] ' + require('util').format(...a)) :
    () => {};
  let net, http, https;
  try {
    net = require('net'); http = require('http'); https = require('https');
  } catch {
    return off;
  }
  const netListen = net.Server.prototype.listen;
  const netClose = net.Server.prototype.close;
  const timeout = Number(process.env.PMX_DRAIN_TIMEOUT) || 8000;
  const grace = Math.min(Number(process.env.PMX_DRAIN_IDLE_GRACE) || 1000, timeout / 2);
  const signals = (process.env.PMX_DRAIN_SIGNALS || 'SIGINT,SIGTERM')
    .split(',').map((s) => s.trim()).filter(Boolean);
  const kDrain = Symbol('pmx.drain');         // the drain of a server: {closed}
  const kRequests = Symbol('pmx.requests');   // requests a socket carried during its drain
  const servers = new Set();                  // listening http and https servers
  let stopping = false;
  let stopAt = 0;

  const isHttp = (server) => server instanceof http.Server || server instanceof https.Server;

  // Node's per-server list of connections (Node >= 18.2), by its symbol's description.
  function symbolOf(server, description) {
    return Object.getOwnPropertySymbols(server).find((k) => k.description === description);
  }
  function connectionsOf(server) {
    const key = symbolOf(server, 'http.server.connections');
    const list = key && server[key];
    return list && typeof list.all === 'function' && typeof list.idle === 'function' ? list : null;
  }
  function closeAfter(res) {
    if (res && !res.headersSent && !res.writableEnded) res.setHeader('Connection', 'close');
  }

  // Drains server; done() once it is closed (its last connection gone).
  function drain(server, done) {
    const state = server[kDrain] = { closed: false };
    const list = connectionsOf(server);
    server.prependListener('request', (req, res) => {
      try {
        closeAfter(res);
        if (req.socket) req.socket[kRequests] = (req.socket[kRequests] || 0) + 1;
      } catch { /* never break a request */ }
    });
    if (list) for (const parser of list.all()) closeAfter(parser.socket && parser.socket._httpMessage);
    // socket -> {since, requests}: when it was first seen idle, and its request count then
    const idleSince = new Map();
    const sweep = () => {
      try {
        const now = Date.now();
        const late = now - stopAt >= timeout - 100;
        if (!list) {
          if (late || now - stopAt >= grace) closeIdle.get(server instanceof https.Server ? https.Server.prototype : http.Server.prototype).call(server);
          return;
        }
        const idle = new Set();
        for (const parser of list.idle()) {
          const socket = parser.socket;
          if (!socket || socket.destroyed) continue;
          const res = socket._httpMessage;
          if (res && !res.writableEnded) continue;    // a request read, its response not done
          idle.add(socket);
          const requests = socket[kRequests] || 0;
          const seen = idleSince.get(socket);
          if (!seen || seen.requests !== requests) idleSince.set(socket, { since: now, requests });
          else if (late || now - seen.since >= grace) socket.destroy();
        }
        for (const socket of idleSince.keys()) if (!idle.has(socket)) idleSince.delete(socket);
      } catch { /* the deadline and kill_timeout still end it */ }
    };
    const timer = setInterval(sweep, Math.min(100, Math.max(10, grace / 4)));
    if (typeof timer.unref === 'function') timer.unref();
    sweep();
    server.once('close', () => {
      state.closed = true;
      clearInterval(timer);
      try {
        const key = symbolOf(server, 'http.server.connectionsCheckingInterval');
        if (key) clearInterval(server[key]);
      } catch { /* ignore */ }
      done();
    });
    debug('draining a server:', list ? list.all().length : '?', 'connection(s)');
    netClose.call(server);
  }

  // stop(next): drains every listening server, then next() (at once when there is none).
  function stop(next) {
    if (stopping) return next();
    stopping = true;
    stopAt = Date.now();
    let left = 0;
    let called = false;
    const go = () => {
      if (called) return;
      called = true;
      debug('drained: the app\'s own shutdown runs');
      next();
    };
    try {
      for (const server of [...servers]) {
        if (!server.listening || server[kDrain]) continue;
        left++;
        drain(server, () => { if (--left === 0) go(); });
      }
    } catch (err) {
      debug('drain failed:', err && err.message);
      return go();
    }
    if (left === 0) return go();
    const handover = setTimeout(go, timeout / 2);
    if (typeof handover.unref === 'function') handover.unref();
    return undefined;
  }

  // Which servers listen: http and https servers, from their 'listening' on.
  net.Server.prototype.listen = function listen(...args) {
    try {
      if (isHttp(this) && !servers.has(this)) {
        this.once('listening', () => {
          servers.add(this);
          this.once('close', () => servers.delete(this));
        });
      }
    } catch { /* not tracked: not drained */ }
    return netListen.apply(this, args);
  };

  const closeIdle = new Map();   // prototype -> Node's closeIdleConnections
  for (const proto of [http.Server.prototype, https.Server.prototype]) {
    try {
      const own = (name) => Object.prototype.hasOwnProperty.call(proto, name) && typeof proto[name] === 'function';
      if (own('close')) {
        const origClose = proto.close;
        proto.close = function close(...args) {
          const state = this[kDrain];
          if (!state) return origClose.apply(this, args);
          // Drained or draining by pmx: the app's callback comes once it is closed, without
          // the error ("not running") Node would give it.
          const cb = typeof args[0] === 'function' ? args[0] : null;
          if (cb) {
            if (state.closed) process.nextTick(cb);
            else this.once('close', () => cb());
          }
          return this;
        };
      }
      const origIdle = proto.closeIdleConnections;
      closeIdle.set(proto, typeof origIdle === 'function' ? origIdle : () => {});
      if (own('closeIdleConnections')) {
        proto.closeIdleConnections = function closeIdleConnections(...args) {
          if (this[kDrain]) return undefined;       // the drain's sweeps close them after the grace
          return origIdle.apply(this, args);
        };
      }
    } catch { /* this one is left as Node has it */ }
  }

  // A stop signal for the app's own listeners goes to them once the servers are drained. Node
  // delivers signals through process.emit (bound when the first listener for a signal is
  // added, after this ran).
  const origEmit = process.emit;
  process.emit = function emit(event) {
    try {
      if (typeof event === 'string' && !stopping && signals.includes(event) &&
          process.listeners(event).some((l) => !l[kPmxOwn]) && servers.size > 0) {
        const self = this;
        const args = arguments;
        stop(() => origEmit.apply(self, args));
        return true;
      }
    } catch { /* to the app at once */ }
    return origEmit.apply(this, arguments);
  };
  return { stop };
})();

(function pmxPreload() {
  if (process.env.PMX_CLUSTER !== '1') return;
  delete process.env.PMX_CLUSTER;
  if (typeof process.send !== 'function' || !process.channel) return;

  const net = require('net');
  const util = require('util');

  const debug = process.env.PMX_DEBUG === '1' ?
    (...a) => process._rawDebug('[pmx ' + process.pid + '] ' + util.format(...a)) :
    () => {};

  const origListen = net.Server.prototype.listen;
  const origListen2 = net.Server.prototype._listen2; // = setupListenHandle
  const origNetClose = net.Server.prototype.close;
  if (typeof origListen2 !== 'function') return; // unknown Node internals: stay out

  const kOpts = Symbol('pmx.listenOptions');
  const kTracked = Symbol('pmx.tracked');
  const kInflight = Symbol('pmx.inflight');

  let seq = 0;
  const pending = new Map();      // id -> {server, args, listeningId, key, index}
  const indexes = new Map();      // "address:port:addressType" -> {next, live:Set}
  const servers = new Set();      // listening servers (for drain)
  let keepAlive = null;           // timer that keeps the loop alive while a request is pending
  let draining = false;

  // ---- channel helpers -----------------------------------------------------
  function connected() { return process.connected === true; }

  // Always pass a callback: without one, a send on a closed channel emits
  // 'error' on `process`, which is fatal when nobody listens for it.
  function send(msg, cb) {
    if (!connected()) { if (cb) process.nextTick(cb, new Error('channel closed')); return; }
    try {
      process.send({ cmd: 'NODE_PMX', ...msg }, null, {}, (err) => { if (cb) cb(err || null); });
    } catch (err) {
      if (cb) process.nextTick(cb, err);
    }
  }

  function holdLoop() {
    if (!keepAlive) keepAlive = setInterval(() => {}, 1 << 30);
  }
  function releaseLoop() {
    if (keepAlive && pending.size === 0) { clearInterval(keepAlive); keepAlive = null; }
  }

  // ---- errors that look like Node's own listen errors ------------------------
  function listenError(errno, address, port) {
    let code = 'UNKNOWN', desc = 'unknown error';
    try {
      const e = util.getSystemErrorMap().get(errno);
      if (e) { code = e[0]; desc = e[1]; }
    } catch { /* Node < 16 */ }
    if (address == null) address = '::';   // what Node prints for "no host"
    const where = port >= 0 ? `${address}:${port}` : `${address}`;
    const err = new Error(`listen ${code}: ${desc} ${where}`);
    err.code = code; err.errno = errno; err.syscall = 'listen';
    err.address = address;
    if (port > 0) err.port = port;
    return err;
  }

  // ---- listen() ------------------------------------------------------------
  // listen() itself is only wrapped to remember an options object (exclusive,
  // readableAll, writableAll are not passed down to _listen2) and to start
  // tracking the server. All argument shapes (port, host, backlog, cb, options,
  // path, handle, fd, port 0, dns lookup of host) are normalised by Node, which
  // then calls server._listen2(address, port, addressType, backlog, fd, flags)
  // - the hook point Node keeps "to avoid breaking code that wraps this method".
  net.Server.prototype.listen = function pmxListen(...args) {
    const a0 = args[0];
    this[kOpts] = (a0 !== null && typeof a0 === 'object' && !a0._handle &&
                   !a0.handle && typeof a0.fd !== 'number') ? a0 : null;
    return origListen.apply(this, args);
  };

  net.Server.prototype._listen2 = function pmxListen2(address, port, addressType,
                                                         backlog, fd, flags) {
    const opts = this[kOpts] || {};
    // Pass through: already has a handle (listen(handle), or our reply), an
    // explicit fd, exclusive:true, or no daemon to ask.
    if (this._handle || (typeof fd === 'number' && fd >= 0) || opts.exclusive ||
        !connected() || draining) {
      const r = origListen2.apply(this, arguments);
      if (this._handle) track(this);
      return r;
    }
    const server = this;
    const args = [address, port, addressType, backlog, fd, flags];
    // Same keying as Node's cluster: address:port:addressType plus a per-process
    // index, so that the k-th listen(0) of every instance maps to the same socket.
    const base = `${address}:${port}:${addressType}`;
    let ix = indexes.get(base);
    if (!ix) { ix = { next: 0, live: new Set() }; indexes.set(base, ix); }
    const index = ix.next++;
    ix.live.add(index);
    const id = ++seq;
    pending.set(id, { server, args, listeningId: server._listeningId, base, index });
    holdLoop();
    const req = {
      pmx: 'listen', id, address, port, addressType, index,
      backlog: backlog || 511, flags: flags || 0,
    };
    if (port === -1 && typeof address === 'string') {        // unix socket
      if (address[0] !== '\0' && !require('path').isAbsolute(address)) {
        req.address = require('path').resolve(address);          // daemon cwd differs
      }
      if (opts.readableAll) req.readableAll = true;
      if (opts.writableAll) req.writableAll = true;
    }
    if (opts.ipv6Only) req.ipv6Only = true;
    debug('listen request', req);
    send(req, (err) => { if (err) settle(id, null, null, err); });
    return undefined;
  };

  function releaseIndex(base, index) {
    const ix = indexes.get(base);
    if (!ix) return;
    ix.live.delete(index);
    if (ix.live.size === 0) indexes.delete(base);
  }

  // reply: {cmd:'NODE_PMX', pmx:'listen', id, errno?} (+ handle)
  function settle(id, reply, handle, sendErr) {
    const p = pending.get(id);
    if (!p) { if (handle) handle.close(); return; }
    pending.delete(id);
    releaseLoop();
    const { server, args, listeningId } = p;
    const [address, port] = args;
    if (listeningId !== server._listeningId || server._handle) {
      // listen() was called again / server closed meanwhile: drop this handle.
      if (handle) handle.close();
      releaseIndex(p.base, p.index);
      return;
    }
    if (sendErr || (!handle && !(reply && reply.errno))) {
      // Daemon unreachable: behave like plain Node and bind locally.
      debug('no handle from daemon, binding locally', sendErr && sendErr.message);
      releaseIndex(p.base, p.index);
      origListen2.apply(server, args);
      if (server._handle) track(server);
      return;
    }
    if (reply && reply.errno) {
      if (handle) handle.close();
      releaseIndex(p.base, p.index);
      server.emit('error', listenError(reply.errno, address, port));
      return;
    }
    server._handle = handle;
    // setupListenHandle with a handle present: calls handle.listen(backlog)
    // (harmless on an already-listening socket), sets onconnection, connection
    // key, and emits 'listening' on next tick -> app callback runs.
    origListen2.apply(server, args);
    if (!server._handle) return; // listen failed; Node already emits 'error'
    track(server);
    const h = server._handle;
    const close = h.close;
    h.close = function() { releaseIndex(p.base, p.index); return close.apply(this, arguments); };
    server.once('listening', () => {
      let addr = null;
      try { addr = server.address(); } catch { /* ignore */ }
      send({ pmx: 'listening', id, key: `${p.base}:${p.index}`, address: addr });
    });
  }

  process.on('internalMessage', (msg, handle) => {
    if (!msg || msg.cmd !== 'NODE_PMX') return;
    if (msg.pmx === 'listen') settle(msg.id, msg, handle || null, null);
    else if (msg.pmx === 'shutdown') onShutdownMessage();
  });

  // Daemon gone (crash-only daemon): keep serving with the sockets we have.
  // A plain (non-cluster-worker) Node process keeps running after
  // 'disconnect'; pending listen requests fall back to a local bind.
  process.once('disconnect', () => {
    debug('channel disconnected');
    for (const id of [...pending.keys()]) settle(id, null, null, new Error('disconnected'));
  });
  // _forkChild refs the channel for every 'message'/'disconnect' listener
  // (newListener -> control.refCounted()). Undo the ref our listener just
  // took, so an app that would exit on its own still exits.
  {
    const ch = process.channel;
    if (ch && typeof ch.unrefCounted === 'function') ch.unrefCounted(); // Node >= 20.x/22
    else if (ch && typeof ch.unref === 'function') ch.unref();           // Node 18: counted unref
  }

  // ---- tracking for graceful drain ------------------------------------------
  function track(server) {
    if (server[kTracked]) return;
    server[kTracked] = true;
    servers.add(server);
    server.once('close', () => servers.delete(server));
    const inflight = server[kInflight] = new Set();
    // Runs before the app's handler: during drain, every response says
    // Connection: close, so keep-alive clients reconnect (to another instance).
    server.prependListener('request', (req, res) => {
      if (draining && !res.headersSent) res.setHeader('Connection', 'close');
      inflight.add(res);
      const done = () => inflight.delete(res);
      res.once('finish', done);
      res.once('close', done);
    });
  }

  // ---- graceful drain --------------------------------------------------------
  const signals = (process.env.PMX_DRAIN_SIGNALS || 'SIGINT,SIGTERM')
    .split(',').map((s) => s.trim()).filter(Boolean);
  const drainTimeout = Number(process.env.PMX_DRAIN_TIMEOUT) || 8000;
  const idleGrace = Math.min(Number(process.env.PMX_DRAIN_IDLE_GRACE) || 1000,
                             drainTimeout / 2);

  function onSignal(sig) {
    // The app installed its own handler: it owns shutdown (pmxAppDrain drained its servers first).
    if (process.listeners(sig).some((l) => !l[kPmxOwn])) return;
    if (draining) return reraise(sig);           // second signal: die now
    drain(() => reraise(sig));
  }
  onSignal[kPmxOwn] = true;
  for (const sig of signals) {
    try { process.on(sig, onSignal); } catch { /* unsupported signal */ }
  }

  function reraise(sig) {
    // Exit exactly like an unhandled signal would (status = killed by sig).
    for (const s of signals) process.removeAllListeners(s);
    process.kill(process.pid, sig);
    setTimeout(() => process.exit(128 + (require('os').constants.signals[sig] || 0)), 1000).unref();
  }

  function onShutdownMessage() {
    // PM2 semantics: 'shutdown' is a message for the app. If the app listens
    // for messages, hand it over and stay out; otherwise drain ourselves.
    if (process.listenerCount('message') > 0) {
      pmxAppDrain.stop(() => process.emit('message', 'shutdown'));
      return;
    }
    if (!draining) drain(() => process.exit(0));
  }

  function drain(finish) {
    draining = true;
    debug('draining', servers.size, 'server(s)');
    send({ pmx: 'draining' });
    let left = servers.size;
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      clearInterval(idleTimer);
      send({ pmx: 'drained' }, () => finish());
      setTimeout(finish, 200).unref();            // channel already gone / slow
    };
    const deadline = setTimeout(() => { debug('drain deadline'); end(); }, drainTimeout);
    deadline.unref();
    if (left === 0) return end();
    for (const server of servers) {
      // In-flight requests whose headers are not out yet: close after them.
      for (const res of server[kInflight] || []) {
        if (!res.headersSent) res.setHeader('Connection', 'close');
      }
      // net.Server.prototype.close, NOT http.Server.prototype.close: the http
      // one (Node >= 19) also destroys idle keep-alive sockets immediately,
      // which races with clients that are just sending their next request.
      // This only closes *our* copy of the listening fd; the daemon and the
      // other instances keep theirs, so no connection is refused.
      origNetClose.call(server, () => { if (--left === 0) end(); });
    }
    // After a grace period, idle keep-alive connections that did not come back
    // are closed (the residual race is the same as keepAliveTimeout's).
    let idleTimer = null;
    setTimeout(() => {
      const sweep = () => {
        for (const server of servers) {
          if (typeof server.closeIdleConnections === 'function') server.closeIdleConnections();
        }
      };
      sweep();
      idleTimer = setInterval(sweep, 100);
      idleTimer.unref();
    }, idleGrace).unref();
  }

  debug('preload active');
})();
