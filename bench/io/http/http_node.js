// An HTTP/1.1 hello server on Node's http module: GET / answers "hello",
// anything else 404. One process, no cluster.
//
//   node http_node.js [--host HOST] [--port PORT]
//
// Port 0 picks a free port; the first line on stdout is "listening on
// HOST:PORT". SIGINT and SIGTERM end it (Node's default action).
'use strict';
const http = require('http');
const { parseArgs } = require('util');

const { values } = parseArgs({
  options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node http_node.js [--host HOST] [--port PORT]');
  process.exit(2);
}

const server = http.createServer((req, res) => {
  const hello = req.method === 'GET' && req.url.split('?')[0] === '/';
  const body = hello ? 'hello' : 'not found\n';
  res.writeHead(hello ? 200 : 404, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.on('error', (err) => {
  console.error(`http_node.js: ${err.message}`);
  process.exit(1);
});
server.listen(port, values.host, () => {
  console.log(`listening on ${values.host}:${server.address().port}`);
});
