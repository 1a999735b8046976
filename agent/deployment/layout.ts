/**
 * The on-disk layout under root_dir (docs/reference.md section 6.6), in one place:
 *   <root>/<DGID>/<DID>/{bundle.tar, deployment-archive/, logs/scripts.log}
 *   <root>/deployment-instructions/<DGID>_{most_recent,last_successful}_install, <DGID>-install.json, <DGID>-cleanup
 *   <root>/deployment-logs/codedeploy-agent-deployments.log
 *   <root>/<ongoing_deployment_tracking>/<DID>
 */
import { join } from 'node:path';

export class DeploymentLayout {
  constructor(readonly rootDir: string) {}

  groupDir(groupId: string): string {
    return join(this.rootDir, groupId);
  }
  deploymentDir(groupId: string, deploymentId: string): string {
    return join(this.rootDir, groupId, deploymentId);
  }
  bundleFile(deploymentDir: string): string {
    return join(deploymentDir, 'bundle.tar');
  }
  archiveDir(deploymentDir: string): string {
    return join(deploymentDir, 'deployment-archive');
  }
  archiveTempDir(deploymentDir: string): string {
    return join(deploymentDir, 'deployment-archive-temp');
  }
  scriptsLog(deploymentDir: string): string {
    return join(deploymentDir, 'logs', 'scripts.log');
  }
  get instructionsDir(): string {
    return join(this.rootDir, 'deployment-instructions');
  }
  mostRecentFile(groupId: string): string {
    return join(this.instructionsDir, `${groupId}_most_recent_install`);
  }
  lastSuccessfulFile(groupId: string): string {
    return join(this.instructionsDir, `${groupId}_last_successful_install`);
  }
  get deploymentLogsDir(): string {
    return join(this.rootDir, 'deployment-logs');
  }
  get deploymentsLogFile(): string {
    return join(this.deploymentLogsDir, 'codedeploy-agent-deployments.log');
  }
  ongoingDir(trackingName: string): string {
    return join(this.rootDir, trackingName);
  }
}
