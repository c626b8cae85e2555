#!/usr/bin/env node
// Thin launcher: everything lives in the built CLI; it returns the exit code.
// The AWS SDK warns on every run that its 2027 releases will need Node 22; cloudmart pins
// its SDK versions, so that notice is shown only with --debug.
if (!process.argv.includes('--debug')) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv);
