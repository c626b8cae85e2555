#!/usr/bin/env node
// Thin launcher: everything lives in the built CLI; errors become exit codes there.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
