// W14 on Node's fs.promises.readFile (usage in ../oneshot.h):
//
//   node files_node.js small PATH N | big PATH N
//
// The file is read whole N times in turn; `big` times each read and reports
// the median.
'use strict';
const { readFile } = require('fs/promises');

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function readFiles(path, n, big) {
  const rates = [];
  let size = -1;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const data = await readFile(path);
    if (size < 0) size = data.length;
    if (data.length !== size || size === 0) throw new Error(`read ${size} bytes, then ${data.length}`);
    if (big) rates.push(size / 1e6 / seconds(t));
  }
  if (!big) return n / seconds(start);
  rates.sort((a, b) => a - b);
  const m = rates.length >> 1;
  return rates.length % 2 ? rates[m] : (rates[m - 1] + rates[m]) / 2;
}

async function main() {
  const [mode, path, count] = process.argv.slice(2);
  const n = Number(count);
  if (!['small', 'big'].includes(mode) || !path || !(n >= 1)) {
    console.error('usage: node files_node.js small PATH N | big PATH N');
    process.exit(2);
  }
  const start = process.hrtime.bigint();
  const value = await readFiles(path, n, mode === 'big');
  console.log(JSON.stringify({ impl: 'node', case: mode, count: n, seconds: seconds(start), value: +value.toFixed(1) }));
}

main().catch((e) => {
  console.error(`files_node.js: ${e.message}`);
  process.exit(1);
});
