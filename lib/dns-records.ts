/**
 * Route 53 records for the Gateway hosts: CNAMEs to the NLB, an alias at the apex.
 * A zone in another account is written through a role there (`zoneRoleArn`) by a
 * custom resource that upserts on create/update and deletes on delete.
 */
import { Duration } from 'aws-cdk-lib';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as cr from 'aws-cdk-lib/custom-resources';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { RecordPlan } from './gateway-hosts';

export interface DnsRecordsProps {
  readonly zoneName: string;
  readonly hostedZoneId: string;
  readonly nlb: elbv2.INetworkLoadBalancer;
  readonly records: readonly RecordPlan[];
  /** @default 300 */
  readonly ttlSeconds?: number;
  /** Role in the zone's account; records are then written through it. @default - same account */
  readonly zoneRoleArn?: string;
}

export class DnsRecords extends Construct {
  readonly zone: route53.IHostedZone;

  constructor(scope: Construct, id: string, props: DnsRecordsProps) {
    super(scope, id);
    this.zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: props.hostedZoneId, zoneName: props.zoneName });
    const ttl = Duration.seconds(props.ttlSeconds ?? 300);
    props.records.forEach((record, i) => {
      const id = `Record${i}`;
      if (props.zoneRoleArn) return this.crossAccount(id, record, props, ttl);
      if (record.type === 'ALIAS')
        new route53.ARecord(this, id, {
          zone: this.zone,
          recordName: record.host,
          target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(props.nlb)),
        });
      else new route53.CnameRecord(this, id, { zone: this.zone, recordName: record.host, domainName: props.nlb.loadBalancerDnsName, ttl });
    });
  }

  private crossAccount(id: string, record: RecordPlan, props: DnsRecordsProps, ttl: Duration): void {
    const set =
      record.type === 'ALIAS'
        ? {
            Name: record.host,
            Type: 'A',
            AliasTarget: {
              DNSName: props.nlb.loadBalancerDnsName,
              HostedZoneId: props.nlb.loadBalancerCanonicalHostedZoneId,
              EvaluateTargetHealth: true,
            },
          }
        : { Name: record.host, Type: 'CNAME', TTL: ttl.toSeconds(), ResourceRecords: [{ Value: props.nlb.loadBalancerDnsName }] };
    const call = (action: 'UPSERT' | 'DELETE'): cr.AwsSdkCall => ({
      service: 'Route53',
      action: 'changeResourceRecordSets',
      assumedRoleArn: props.zoneRoleArn,
      parameters: { HostedZoneId: props.hostedZoneId, ChangeBatch: { Changes: [{ Action: action, ResourceRecordSet: set }] } },
      physicalResourceId: cr.PhysicalResourceId.of(`${props.hostedZoneId}-${record.host}-${set.Type}`),
    });
    new cr.AwsCustomResource(this, id, {
      onCreate: call('UPSERT'),
      onUpdate: call('UPSERT'),
      onDelete: call('DELETE'),
      installLatestAwsSdk: false,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [props.zoneRoleArn!] }),
      ]),
    });
  }
}
