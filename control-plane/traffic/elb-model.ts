/**
 * The local load balancers' records and operations, in the Elastic Load Balancing v2 API's own
 * member names (API version 2015-12-01), so the Query API layer (elbv2-handler.ts) maps them to XML
 * one to one. Only HTTP load balancers, HTTP target groups and forward listeners exist here.
 *
 * `LoadBalancers` (load-balancers.ts) implements `ElbService` over SQLite (records) and memory
 * (health states, in-flight requests, listener servers); it also implements the engine's
 * TrafficPort (traffic-port.ts).
 */
import type { TargetHealthState } from './traffic-port.js';

export interface ElbTag {
  Key: string;
  Value?: string;
}

export interface TargetGroupRecord {
  TargetGroupArn: string;
  TargetGroupName: string;
  Protocol: 'HTTP';
  /** The port targets registered without one get. */
  Port: number;
  VpcId?: string;
  /** 'instance' (an on-premises instance name, address from its local:traffic-address tag) or 'ip'. */
  TargetType: 'instance' | 'ip';
  HealthCheckProtocol: 'HTTP';
  HealthCheckPath: string;
  /** 'traffic-port' or a number as text, as the API has it. */
  HealthCheckPort: string;
  HealthCheckEnabled: boolean;
  HealthCheckIntervalSeconds: number;
  HealthCheckTimeoutSeconds: number;
  HealthyThresholdCount: number;
  UnhealthyThresholdCount: number;
  /** Matcher.HttpCode, e.g. "200" or "200-299" or "200,302". */
  Matcher: { HttpCode: string };
  LoadBalancerArns: string[];
  /** Attribute deregistration_delay.timeout_seconds (default 300, 0-3600). */
  DeregistrationDelaySeconds: number;
}

export interface LoadBalancerRecord {
  LoadBalancerArn: string;
  LoadBalancerName: string;
  /** `<name>-<id>.<region>.elb.localhost`; the listeners really listen on the control plane's host. */
  DNSName: string;
  CanonicalHostedZoneId: string;
  CreatedTime: number;
  Scheme: 'internet-facing' | 'internal';
  Type: 'application';
  State: { Code: 'active' | 'provisioning' | 'failed'; Reason?: string };
  VpcId?: string;
  IpAddressType: 'ipv4';
}

export interface ListenerRecord {
  ListenerArn: string;
  LoadBalancerArn: string;
  /** The real port on the control plane's host. */
  Port: number;
  Protocol: 'HTTP';
  DefaultActions: { Type: 'forward'; TargetGroupArn: string }[];
}

export interface TargetDescription {
  Id: string;
  Port?: number;
}

export interface TargetHealthDescription {
  Target: TargetDescription;
  HealthCheckPort: string;
  TargetHealth: {
    State: TargetHealthState;
    /** ELBv2's reason codes: Elb.RegistrationInProgress, Target.ResponseCodeMismatch, Target.Timeout, Target.FailedHealthChecks, Target.NotRegistered, Target.DeregistrationInProgress, Elb.InternalError ... */
    Reason?: string;
    Description?: string;
  };
}

/** An ELBv2 error: its Code (e.g. TargetGroupNotFound, DuplicateTargetGroupName, ValidationError, InvalidTarget, DuplicateListener) and HTTP status. */
export class ElbError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'ElbError';
  }
}

export interface CreateTargetGroupInput {
  Name: string;
  Protocol?: string;
  Port?: number;
  VpcId?: string;
  TargetType?: string;
  HealthCheckProtocol?: string;
  HealthCheckPath?: string;
  HealthCheckPort?: string;
  HealthCheckEnabled?: boolean;
  HealthCheckIntervalSeconds?: number;
  HealthCheckTimeoutSeconds?: number;
  HealthyThresholdCount?: number;
  UnhealthyThresholdCount?: number;
  Matcher?: { HttpCode?: string };
  Tags?: ElbTag[];
}

/** The operations the Query API serves; every one throws ElbError for bad input or missing records. */
export interface ElbService {
  createTargetGroup(input: CreateTargetGroupInput): TargetGroupRecord;
  /** By ARNs, or names, or all (optionally those of a load balancer). */
  describeTargetGroups(filter: { TargetGroupArns?: string[]; Names?: string[]; LoadBalancerArn?: string }): TargetGroupRecord[];
  modifyTargetGroup(input: Partial<CreateTargetGroupInput> & { TargetGroupArn: string }): TargetGroupRecord;
  deleteTargetGroup(targetGroupArn: string): void;
  describeTargetGroupAttributes(targetGroupArn: string): { Key: string; Value: string }[];
  modifyTargetGroupAttributes(targetGroupArn: string, attributes: { Key: string; Value: string }[]): { Key: string; Value: string }[];
  registerTargets(targetGroupArn: string, targets: TargetDescription[]): void;
  deregisterTargets(targetGroupArn: string, targets: TargetDescription[]): void;
  describeTargetHealth(targetGroupArn: string, targets?: TargetDescription[]): TargetHealthDescription[];
  createLoadBalancer(input: { Name: string; Scheme?: string; Type?: string; Subnets?: string[]; Tags?: ElbTag[] }): LoadBalancerRecord;
  describeLoadBalancers(filter: { LoadBalancerArns?: string[]; Names?: string[] }): LoadBalancerRecord[];
  deleteLoadBalancer(loadBalancerArn: string): Promise<void>;
  /** Opens the port (EADDRINUSE and the like become ElbError DuplicateListener / ValidationError). */
  createListener(input: {
    LoadBalancerArn: string;
    Protocol?: string;
    Port: number;
    DefaultActions: { Type: string; TargetGroupArn?: string }[];
  }): Promise<ListenerRecord>;
  describeListeners(filter: { LoadBalancerArn?: string; ListenerArns?: string[] }): ListenerRecord[];
  deleteListener(listenerArn: string): Promise<void>;
  addTags(resourceArns: string[], tags: ElbTag[]): void;
  removeTags(resourceArns: string[], tagKeys: string[]): void;
  describeTags(resourceArns: string[]): { ResourceArn: string; Tags: ElbTag[] }[];
}
