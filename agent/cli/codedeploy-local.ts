#!/usr/bin/env node
/** The npm entry point of codedeploy-local (the release executable's is agent-main.ts). */
import { originalEnv } from './boot.js';
import { runLocalMain } from './local-main.js';

process.exitCode = await runLocalMain(process.argv.slice(2), originalEnv);
