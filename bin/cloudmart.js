#!/usr/bin/env node
// Thin launcher: everything lives in the built CLI; it returns the exit code.
// The AWS SDK warns on every run that its 2027 releases will need Node 22; cloudmart pins
// its SDK versions, so that notice is shown only with --debug.
if (!process.argv.includes('--debug')) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
const { main } = await import('../dist/cli/main.js');
const code = await main(process.argv);
process.exitCode = code;
// The run is over and its state saved: a handle left open (an idle keep-alive socket, a DNS
// lookup still queued in libuv's pool) must not keep the process alive. Exit once what was
// written to stdout and stderr has been flushed (a slow reader is waited for, not cut off).
let open = 2;
const flushed = () => {
  if (--open === 0) process.exit(code);
};
for (const stream of [process.stdout, process.stderr]) {
  if (stream.destroyed || !stream.writable) flushed();
  else stream.write('', flushed);
}
