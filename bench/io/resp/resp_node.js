// The RESP server of W8 on Node's net module, one process. The commands of
// uvrun-resp-server: PING, ECHO, GET, SET, DEL, EXISTS, INCR, QUIT, CONFIG GET.
//
//   node resp_node.js [--host HOST] [--port PORT]
'use strict';
const net = require('net');

const MAX_BULK = 512 * 1024 * 1024;
const MAX_ARGS = 1024;
const MAX_INLINE = 64 * 1024;
const PROTOCOL_ERROR = new Error('Protocol error');

// The number on the "*N" or "$N" line at pos and the position past it, or
// null while the line is incomplete.
function numberLine(buf, pos) {
  const cr = buf.indexOf('\r\n', pos);
  if (cr < 0) {
    if (buf.length - pos > 32) throw PROTOCOL_ERROR;
    return null;
  }
  const text = buf.toString('latin1', pos + 1, cr);
  if (!/^-?\d+$/.test(text)) throw PROTOCOL_ERROR;
  return [Number(text), cr + 2];
}

// One command at buf[pos..]: its arguments (Buffers) and the position past
// it, or null while it is incomplete.
function parse(buf, pos) {
  if (buf[pos] !== 0x2a) { // not '*': an inline command, words up to a newline
    const nl = buf.indexOf('\n', pos);
    if (nl < 0) {
      if (buf.length - pos > MAX_INLINE) throw PROTOCOL_ERROR;
      return null;
    }
    const words = buf.toString('latin1', pos, nl).split(/[ \t\r]+/).filter((w) => w !== '');
    return [words.map((w) => Buffer.from(w, 'latin1')), nl + 1];
  }
  let got = numberLine(buf, pos);
  if (got === null) return null;
  const [n] = got;
  if (n < 0 || n > MAX_ARGS) throw PROTOCOL_ERROR;
  pos = got[1];
  const args = [];
  for (let i = 0; i < n; i++) {
    if (pos === buf.length) return null;
    if (buf[pos] !== 0x24) throw PROTOCOL_ERROR; // '$'
    if ((got = numberLine(buf, pos)) === null) return null;
    const [size] = got;
    if (size < 0 || size > MAX_BULK) throw PROTOCOL_ERROR;
    pos = got[1];
    if (buf.length - pos < size + 2) return null;
    args.push(buf.subarray(pos, pos + size));
    pos += size + 2;
  }
  return [args, pos];
}

const bulk = (value) => Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')]);
const integer = (n) => Buffer.from(`:${n}\r\n`);
const PONG = Buffer.from('+PONG\r\n');
const OK = Buffer.from('+OK\r\n');
const NIL = Buffer.from('$-1\r\n');
const BYE = Buffer.from('+OK\r\n'); // QUIT's reply: the connection ends after it

// The reply to one command; keys are latin1 strings, so any bytes fit.
function run(db, args) {
  const name = args[0].toString('latin1').toLowerCase();
  const argc = args.length;
  const key = (i) => args[i].toString('latin1');
  if (name === 'ping' && argc <= 2) return argc === 2 ? bulk(args[1]) : PONG;
  if (name === 'echo' && argc === 2) return bulk(args[1]);
  if (name === 'get' && argc === 2) {
    const value = db.get(key(1));
    return value === undefined ? NIL : bulk(value);
  }
  if (name === 'set' && argc === 3) {
    db.set(key(1), Buffer.from(args[2])); // a copy: the read's buffer is not kept alive
    return OK;
  }
  if ((name === 'del' || name === 'exists') && argc >= 2) {
    let n = 0;
    for (let i = 1; i < argc; i++) n += name === 'del' ? db.delete(key(i)) : db.has(key(i));
    return integer(n);
  }
  if (name === 'incr' && argc === 2) {
    const text = (db.get(key(1)) ?? Buffer.from('0')).toString('latin1');
    if (!/^-?\d{1,19}$/.test(text) || BigInt(text) >= 2n ** 63n - 1n) {
      return Buffer.from('-ERR value is not an integer or out of range\r\n');
    }
    const value = (BigInt(text) + 1n).toString();
    db.set(key(1), Buffer.from(value));
    return integer(value);
  }
  if (name === 'quit') return BYE;
  if (name === 'config' && argc === 3 && args[1].toString('latin1').toLowerCase() === 'get') {
    return Buffer.from('*0\r\n'); // redis-benchmark asks at start-up
  }
  return Buffer.from(`-ERR unknown command or wrong number of arguments for '${name.slice(0, 32)}'\r\n`);
}

function serve(db, socket) {
  let buf = Buffer.alloc(0);
  socket.setNoDelay(true);
  socket.on('error', () => {}); // a reset client just ends its connection
  socket.on('data', (chunk) => {
    if (socket.writableEnded) return; // after QUIT
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const replies = [];
    let pos = 0;
    let quit = false;
    try {
      for (let got; !quit && pos < buf.length && (got = parse(buf, pos)) !== null;) {
        const [args] = got;
        pos = got[1];
        if (args.length === 0) continue;
        const reply = run(db, args);
        replies.push(reply);
        quit = reply === BYE;
      }
    } catch (err) {
      if (err !== PROTOCOL_ERROR) throw err;
      replies.push(Buffer.from('-ERR Protocol error\r\n'));
      quit = true;
    }
    buf = buf.subarray(pos);
    if (replies.length > 0) socket.write(replies.length === 1 ? replies[0] : Buffer.concat(replies));
    if (quit) socket.end();
  });
}

function main(argv) {
  const opts = { host: '127.0.0.1', port: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in opts) || i + 1 >= argv.length) {
      console.error('usage: node resp_node.js [--host HOST] [--port PORT]');
      process.exit(2);
    }
    opts[name] = name === 'port' ? Number(argv[i + 1]) : argv[i + 1];
  }
  const db = new Map();
  const server = net.createServer((socket) => serve(db, socket));
  server.listen(opts.port, opts.host, () => console.log(`listening on ${opts.host}:${server.address().port}`));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
}

main(process.argv.slice(2));
