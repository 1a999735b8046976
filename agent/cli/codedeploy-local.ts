#!/usr/bin/env node
import { originalEnv } from './boot.js';
import { processIo } from '../../common/cli-io.js';
import { runCodedeployLocal } from './local-command.js';

process.exitCode = await runCodedeployLocal(process.argv.slice(2), { io: processIo, cwd: process.cwd(), env: originalEnv });
