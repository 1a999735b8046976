/**
 * The local control plane's records, in the public CodeDeploy API's own shapes (camelCase member
 * names, epoch-second timestamps as JSON numbers, the AWS JSON 1.1 convention), so a stored record
 * is what the Get and BatchGet operations return with no mapping layer. Only the members this control plane
 * supports are listed; everything is plain JSON (stored as TEXT in SQLite).
 */

/** Epoch seconds with a fraction, as the AWS JSON 1.1 protocol sends timestamps. */
export type EpochSeconds = number;

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '000000000000';

/** Where the control plane is and who it pretends to be (used to mint ARNs and spec fields). */
export interface ControlPlaneIdentity {
  region: string;
  accountId: string;
}

export interface ApplicationInfo {
  applicationId: string;
  applicationName: string;
  createTime: EpochSeconds;
  linkedToGitHub: boolean;
  computePlatform: 'Server';
}

export interface Tag {
  Key: string;
  Value?: string;
}

/** TagFilter for on-premises instances and EC2 (Type KEY_ONLY | VALUE_ONLY | KEY_AND_VALUE). */
export interface TagFilter {
  Key?: string;
  Value?: string;
  Type?: 'KEY_ONLY' | 'VALUE_ONLY' | 'KEY_AND_VALUE';
}

export interface AutoRollbackConfiguration {
  enabled?: boolean;
  events?: ('DEPLOYMENT_FAILURE' | 'DEPLOYMENT_STOP_ON_ALARM' | 'DEPLOYMENT_STOP_ON_REQUEST')[];
}

export interface S3Location {
  bucket?: string;
  key?: string;
  bundleType?: 'tar' | 'tgz' | 'zip' | 'YAML' | 'JSON';
  version?: string;
  eTag?: string;
}

export interface GitHubLocation {
  /** "owner/repo" */
  repository?: string;
  commitId?: string;
}

export interface RevisionLocation {
  revisionType?: 'S3' | 'GitHub' | 'String' | 'AppSpecContent';
  s3Location?: S3Location;
  gitHubLocation?: GitHubLocation;
}

export interface LastDeploymentInfo {
  deploymentId: string;
  status: DeploymentStatus;
  endTime?: EpochSeconds;
  createTime: EpochSeconds;
}

/**
 * IN_PLACE: WITH_TRAFFIC_CONTROL takes each host out of the load balancers' target groups in
 * `loadBalancerInfo` while it is updated (BlockTraffic, AllowTraffic), WITHOUT_TRAFFIC_CONTROL
 * leaves traffic alone. BLUE_GREEN (always WITH_TRAFFIC_CONTROL): the revision goes to a second
 * fleet (green: the deployment's targetInstances), traffic moves to it, then away from the
 * group's instances (blue).
 */
export interface DeploymentStyle {
  deploymentType: 'IN_PLACE' | 'BLUE_GREEN';
  deploymentOption: 'WITH_TRAFFIC_CONTROL' | 'WITHOUT_TRAFFIC_CONTROL';
}

/** A blue/green group's settings, in the API's members (green fleets are existing instances here). */
export interface BlueGreenDeploymentConfiguration {
  terminateBlueInstancesOnDeploymentSuccess: { action: 'TERMINATE' | 'KEEP_ALIVE'; terminationWaitTimeInMinutes: number };
  deploymentReadyOption: { actionOnTimeout: 'CONTINUE_DEPLOYMENT' | 'STOP_DEPLOYMENT'; waitTimeInMinutes: number };
  greenFleetProvisioningOption: { action: 'DISCOVER_EXISTING' };
}

/** CreateDeployment's green fleet for a blue/green group: on-premises instances with these tags. */
export interface TargetInstances {
  tagFilters: TagFilter[];
}

/** The target groups (by name) of the local load balancers (control-plane/traffic/) a group's hosts are served from. */
export interface LoadBalancerInfo {
  targetGroupInfoList?: { name: string }[];
}

export interface DeploymentGroupInfo {
  applicationName: string;
  deploymentGroupId: string;
  deploymentGroupName: string;
  deploymentConfigName: string;
  ec2TagFilters: TagFilter[];
  onPremisesInstanceTagFilters: TagFilter[];
  serviceRoleArn?: string;
  targetRevision?: RevisionLocation;
  autoRollbackConfiguration?: AutoRollbackConfiguration;
  /** Kept and returned as given; no CloudWatch here, so alarms never stop a deployment. */
  alarmConfiguration?: AlarmConfiguration;
  /** Deployment and instance events published to topics of the local SNS (control-plane/notifications/). */
  triggerConfigurations?: TriggerConfig[];
  deploymentStyle: DeploymentStyle;
  loadBalancerInfo?: LoadBalancerInfo;
  blueGreenDeploymentConfiguration?: BlueGreenDeploymentConfiguration;
  outdatedInstancesStrategy: 'UPDATE' | 'IGNORE';
  lastSuccessfulDeployment?: LastDeploymentInfo;
  lastAttemptedDeployment?: LastDeploymentInfo;
  computePlatform: 'Server';
}

export const TRIGGER_EVENT_TYPES = [
  'DeploymentStart',
  'DeploymentSuccess',
  'DeploymentFailure',
  'DeploymentStop',
  'DeploymentRollback',
  'DeploymentReady',
  'InstanceStart',
  'InstanceSuccess',
  'InstanceFailure',
  'InstanceReady',
] as const;
export type TriggerEventType = (typeof TRIGGER_EVENT_TYPES)[number];

export interface TriggerConfig {
  triggerName: string;
  /** The ARN of a topic of the local SNS. */
  triggerTargetArn: string;
  triggerEvents: TriggerEventType[];
}

export interface AlarmConfiguration {
  enabled: boolean;
  ignorePollAlarmFailure: boolean;
  alarms: { name: string }[];
}

export interface MinimumHealthyHosts {
  type: 'HOST_COUNT' | 'FLEET_PERCENT' | 'MOST_CONCURRENCY';
  value: number;
}

export interface DeploymentConfigInfo {
  deploymentConfigId: string;
  deploymentConfigName: string;
  minimumHealthyHosts: MinimumHealthyHosts;
  createTime: EpochSeconds;
  computePlatform: 'Server';
}

export interface InstanceInfo {
  instanceName: string;
  iamUserArn?: string;
  iamSessionArn?: string;
  instanceArn: string;
  registerTime: EpochSeconds;
  deregisterTime?: EpochSeconds;
  tags: Tag[];
}

export type DeploymentStatus = 'Created' | 'Queued' | 'InProgress' | 'Baking' | 'Succeeded' | 'Failed' | 'Stopped' | 'Ready';

export interface ErrorInformation {
  code: string;
  message: string;
}

export interface DeploymentOverview {
  Pending: number;
  InProgress: number;
  Succeeded: number;
  Failed: number;
  Skipped: number;
  Ready: number;
}

export interface RollbackInfo {
  rollbackDeploymentId?: string;
  rollbackTriggeringDeploymentId?: string;
  rollbackMessage?: string;
}

export type FileExistsBehavior = 'DISALLOW' | 'OVERWRITE' | 'RETAIN';

export interface DeploymentInfo {
  applicationName: string;
  deploymentGroupName: string;
  deploymentConfigName: string;
  deploymentId: string;
  previousRevision?: RevisionLocation;
  revision: RevisionLocation;
  status: DeploymentStatus;
  errorInformation?: ErrorInformation;
  createTime: EpochSeconds;
  startTime?: EpochSeconds;
  completeTime?: EpochSeconds;
  deploymentOverview: DeploymentOverview;
  description?: string;
  creator:
    'user' | 'autoscaling' | 'codeDeployRollback' | 'CodeDeploy' | 'CodeDeployAutoUpdate' | 'CloudFormation' | 'CloudFormationRollback';
  ignoreApplicationStopFailures: boolean;
  autoRollbackConfiguration?: AutoRollbackConfiguration;
  updateOutdatedInstancesOnly: boolean;
  rollbackInfo?: RollbackInfo;
  deploymentStyle: DeploymentStyle;
  loadBalancerInfo?: LoadBalancerInfo;
  blueGreenDeploymentConfiguration?: BlueGreenDeploymentConfiguration;
  targetInstances?: TargetInstances;
  /** Where a blue/green deployment is; engine state, never returned by the API (withOverview drops it). */
  blueGreenPhase?: BlueGreenPhase;
  instanceTerminationWaitTimeStarted: boolean;
  fileExistsBehavior: FileExistsBehavior;
  computePlatform: 'Server';
}

export type LifecycleEventStatus = 'Pending' | 'InProgress' | 'Succeeded' | 'Failed' | 'Skipped' | 'Unknown';

export interface LifecycleEventDiagnostics {
  errorCode: 'Success' | 'ScriptMissing' | 'ScriptNotExecutable' | 'ScriptTimedOut' | 'ScriptFailed' | 'UnknownError';
  scriptName: string;
  message: string;
  logTail: string;
}

export interface LifecycleEvent {
  lifecycleEventName: string;
  diagnostics?: LifecycleEventDiagnostics;
  startTime?: EpochSeconds;
  endTime?: EpochSeconds;
  status: LifecycleEventStatus;
}

export type TargetStatus = 'Pending' | 'InProgress' | 'Succeeded' | 'Failed' | 'Skipped' | 'Unknown' | 'Ready';

/** BatchGetDeploymentTargets' `instanceTarget` (on-premises instances are instance targets too). */
export interface InstanceTarget {
  deploymentId: string;
  targetId: string;
  targetArn: string;
  status: TargetStatus;
  lastUpdatedAt: EpochSeconds;
  lifecycleEvents: LifecycleEvent[];
  instanceLabel?: 'Blue' | 'Green';
}

/**
 * The lifecycle commands of an in-place deployment, in the order the service sends them to a host.
 * This is the service's side of the protocol, written out here on purpose rather than imported
 * from the agent: the control plane is the fake the agent is tested against, and a fake that
 * shares its tables with the thing it tests cannot catch a mistake in them. The agent keeps its
 * own copy (agent/deployment/lifecycle.ts, the official agent's default hook order);
 * test/unit/control-plane/engine/engine.test.ts pins this list literally.
 */
export const IN_PLACE_LIFECYCLE: readonly string[] = [
  'BeforeBlockTraffic',
  'AfterBlockTraffic',
  'ApplicationStop',
  'DownloadBundle',
  'BeforeInstall',
  'Install',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
];

/**
 * A blue/green deployment's steps: install (greens get the revision, up to ValidateService, in
 * batches), ready (STOP_DEPLOYMENT: waiting for ContinueDeployment), reroute (greens'
 * Before/AllowTraffic/AfterAllowTraffic), block (blues' Before/BlockTraffic/AfterBlockTraffic),
 * termination (the wait before blue instances are deregistered or kept). `since`: ms.
 */
export interface BlueGreenPhase {
  step: 'install' | 'ready' | 'reroute' | 'block' | 'termination';
  since: number;
}

/** The two lifecycle events the control plane runs itself (never sent to an agent) in a deployment with traffic control. */
export const TRAFFIC_EVENTS: ReadonlySet<string> = new Set(['BlockTraffic', 'AllowTraffic']);

/**
 * The lifecycle of an in-place deployment WITH_TRAFFIC_CONTROL: IN_PLACE_LIFECYCLE with the
 * service's BlockTraffic (deregister from the target groups, wait until drained) and AllowTraffic
 * (register, wait until healthy) between the hooks around them.
 */
export const IN_PLACE_TRAFFIC_LIFECYCLE: readonly string[] = IN_PLACE_LIFECYCLE.flatMap((name) =>
  name === 'BeforeBlockTraffic' ? [name, 'BlockTraffic'] : name === 'BeforeAllowTraffic' ? [name, 'AllowTraffic'] : [name],
);

/** The target groups a deployment moves its hosts in and out of, or none when it has no traffic control. */
export function trafficTargetGroups(info: Pick<DeploymentInfo, 'deploymentStyle' | 'loadBalancerInfo'>): string[] {
  if (info.deploymentStyle.deploymentOption !== 'WITH_TRAFFIC_CONTROL') return [];
  return (info.loadBalancerInfo?.targetGroupInfoList ?? []).map((g) => g.name);
}

/** A blue (original) instance's events in a blue/green deployment: the traffic lifecycle up to ApplicationStop. */
export const BLUE_LIFECYCLE: readonly string[] = IN_PLACE_TRAFFIC_LIFECYCLE.slice(0, IN_PLACE_TRAFFIC_LIFECYCLE.indexOf('ApplicationStop'));

/** A green (replacement) instance's events in a blue/green deployment: the traffic lifecycle from ApplicationStop on. */
export const GREEN_LIFECYCLE: readonly string[] = IN_PLACE_TRAFFIC_LIFECYCLE.slice(IN_PLACE_TRAFFIC_LIFECYCLE.indexOf('ApplicationStop'));

export const BUILT_IN_DEPLOYMENT_CONFIGS: readonly { name: string; minimumHealthyHosts: MinimumHealthyHosts }[] = [
  { name: 'CodeDeployDefault.OneAtATime', minimumHealthyHosts: { type: 'MOST_CONCURRENCY', value: 1 } },
  { name: 'CodeDeployDefault.HalfAtATime', minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 50 } },
  { name: 'CodeDeployDefault.AllAtOnce', minimumHealthyHosts: { type: 'HOST_COUNT', value: 0 } },
];

export function nowEpochSeconds(now: Date = new Date()): EpochSeconds {
  return now.getTime() / 1000;
}
