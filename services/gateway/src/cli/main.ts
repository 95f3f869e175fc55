#!/usr/bin/env node
import { runCli } from './run-cli.js';

// `tunnelkey ...`: see `tunnelkey --help`. The exit code is the contract with scripts.
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
