// W13 on Node's child_process (usage in ../oneshot.h):
//
//   node proc_node.js spawn N | cat BYTES
//
// spawn: spawn('true') and wait for its 'exit', N times in turn. cat: write
// 64 KiB chunks into cat's stdin (waiting for 'drain' when write() says the
// buffer is full) while counting what comes out of its stdout, until 'close'.
'use strict';
const { spawn } = require('child_process');
const { once } = require('events');

const CHUNK = 64 << 10;

async function spawnTrue(n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const child = spawn('true', [], { stdio: 'inherit' });
    const [code] = await once(child, 'exit');
    if (code !== 0) throw new Error(`true returned ${code}`);
  }
  return n / seconds(start);
}

async function feed(stdin, n) {
  const chunk = Buffer.alloc(CHUNK, 'x');
  while (n > 0) {
    if (!stdin.write(n < CHUNK ? chunk.subarray(0, n) : chunk)) await once(stdin, 'drain');
    n -= CHUNK;
  }
  stdin.end(); // cat sees the end
}

async function catRoundTrip(n) {
  const child = spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const start = process.hrtime.bigint();
  let back = 0;
  child.stdout.on('data', (chunk) => { back += chunk.length; });
  const closed = once(child, 'close');
  await feed(child.stdin, n);
  const [code] = await closed;
  if (code !== 0 || back !== n) throw new Error(`cat returned ${code} and gave back ${back} of ${n} bytes`);
  return back / 1e6 / seconds(start);
}

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main() {
  const [mode, count] = process.argv.slice(2);
  const n = Number(count);
  if (!['spawn', 'cat'].includes(mode) || !(n >= 1)) {
    console.error('usage: node proc_node.js spawn N | cat BYTES');
    process.exit(2);
  }
  const start = process.hrtime.bigint();
  const value = mode === 'spawn' ? await spawnTrue(n) : await catRoundTrip(n);
  console.log(JSON.stringify({ impl: 'node', case: mode, count: n, seconds: seconds(start), value: +value.toFixed(1) }));
}

main().catch((e) => {
  console.error(`proc_node.js: ${e.message}`);
  process.exit(1);
});
