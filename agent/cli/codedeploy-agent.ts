#!/usr/bin/env node
/** The npm entry point of codedeploy-agent (the release executable's is agent-main.ts). */
import { originalEnv } from './boot.js';
import { processIo } from '../../common/cli-io.js';
import { runAgentCli } from './agent-cli.js';

process.exitCode = await runAgentCli(process.argv.slice(2), processIo, originalEnv);
