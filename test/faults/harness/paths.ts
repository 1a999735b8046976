/**
 * Where the compiled programs the fault suite runs live (`npm run test:faults` builds them first).
 * CDA_FAULTS_DIST points the suite at another build, e.g. an older commit's, to show which of its
 * failures the suite catches.
 */
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..', '..');
export const DIST = process.env.CDA_FAULTS_DIST ? resolve(process.env.CDA_FAULTS_DIST) : join(PROJECT_ROOT, 'dist');
export const AGENT_CLI = join(DIST, 'agent', 'cli', 'codedeploy-agent.js');
export const LOCAL_CLI = join(DIST, 'agent', 'cli', 'codedeploy-local.js');
