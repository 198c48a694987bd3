// The InsightXI platform written with the AWS CDK (v2, L2 constructs, as a CDK user would write
// it), for bench/build_bench.py to time CDK's synth against bin/build-templates on the same
// configuration. Not part of the tool: nothing deploys it, and its output is thrown away.
//
//   node bench/cdk/app.js PLATFORM_JSON OUTDIR
//
// PLATFORM_JSON is the resolved configuration (cfn.config.Platform.model_dump(mode="json")).
// Each environment is one stack (network, cluster, load balancer, audit) with one nested stack
// per service (task definition, roles, log group, service, target group, listener rule,
// autoscaling, alarms), the shape of the project's templates. CDK does not lint what it writes.
"use strict";

const fs = require("fs");
const cdk = require("aws-cdk-lib");
const ec2 = require("aws-cdk-lib/aws-ec2");
const ecs = require("aws-cdk-lib/aws-ecs");
const ecr = require("aws-cdk-lib/aws-ecr");
const elbv2 = require("aws-cdk-lib/aws-elasticloadbalancingv2");
const logs = require("aws-cdk-lib/aws-logs");
const kms = require("aws-cdk-lib/aws-kms");
const s3 = require("aws-cdk-lib/aws-s3");
const cloudwatch = require("aws-cdk-lib/aws-cloudwatch");
const secretsmanager = require("aws-cdk-lib/aws-secretsmanager");
const acm = require("aws-cdk-lib/aws-certificatemanager");
const route53 = require("aws-cdk-lib/aws-route53");
const targets = require("aws-cdk-lib/aws-route53-targets");

const [platformPath, outdir] = process.argv.slice(2);
const platform = JSON.parse(fs.readFileSync(platformPath, "utf8"));

function network(stack, env) {
  const azs = env.public_subnets.map((_, i) => `${env.region}${"abc"[i]}`);
  const vpc = new ec2.Vpc(stack, "Vpc", {
    ipAddresses: ec2.IpAddresses.cidr(env.vpc_cidr),
    availabilityZones: azs,
    natGateways: env.nat_gateways,
    subnetConfiguration: [
      { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: "private", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
    ],
  });
  if (env.flow_logs) vpc.addFlowLog("FlowLog");
  return vpc;
}

function edge(stack, env, vpc) {
  const alb = new elbv2.ApplicationLoadBalancer(stack, "Alb", {
    vpc,
    internetFacing: true,
    deletionProtection: env.alb_deletion_protection,
    dropInvalidHeaderFields: env.alb_drop_invalid_headers,
  });
  if (env.access_logs) {
    const bucket = new s3.Bucket(stack, "AccessLogs", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ expiration: cdk.Duration.days(env.access_log_expiration_days) }],
    });
    alb.logAccessLogs(bucket);
  }
  let certificate = null;
  if (env.certificate_arn) {
    certificate = elbv2.ListenerCertificate.fromArn(env.certificate_arn);
  } else if (env.domain_name) {
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, "Zone", {
      hostedZoneId: env.hosted_zone_id,
      zoneName: env.domain_name,
    });
    const cert = new acm.Certificate(stack, "Certificate", {
      domainName: env.domain_name,
      validation: acm.CertificateValidation.fromDns(zone),
    });
    new route53.ARecord(stack, "Alias", {
      zone,
      target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(alb)),
    });
    certificate = elbv2.ListenerCertificate.fromCertificateManager(cert);
  }
  const fixed = elbv2.ListenerAction.fixedResponse(404, { contentType: "text/plain" });
  if (!certificate) return alb.addListener("Http", { port: 80, defaultAction: fixed });
  alb.addRedirect({ sourcePort: 80, targetPort: 443 });
  return alb.addListener("Https", { port: 443, certificates: [certificate], defaultAction: fixed });
}

function service(parent, env, svc, shared) {
  const size = env.sizing[svc.name];
  const stack = new cdk.NestedStack(parent, svc.name);
  const tag = new cdk.CfnParameter(stack, "ImageTag", { type: "String" });
  const logGroup = new logs.LogGroup(stack, "Logs", {
    logGroupName: `/ecs/${env.project}-${env.name}/${svc.name}`,
    retention: env.log_retention_days,
    encryptionKey: shared.key,
  });
  const task = new ecs.FargateTaskDefinition(stack, "Task", {
    cpu: size.cpu,
    memoryLimitMiB: size.memory,
  });
  const secrets = {};
  for (const name of svc.secrets) {
    const secret = secretsmanager.Secret.fromSecretNameV2(
      stack, `Secret${name}`, `${env.project}/${env.name}/${svc.name}/${name}`);
    secrets[name] = ecs.Secret.fromSecretsManager(secret);
  }
  const environment = Object.fromEntries(svc.environment);
  for (const dep of svc.depends_on) {
    const d = env.services.find((s) => s.name === dep);
    environment[`${d.discovery_name.toUpperCase()}_URL`] =
      `http://${d.discovery_name}.${env.discovery_namespace}:${d.port}`;
  }
  const container = task.addContainer("app", {
    image: ecs.ContainerImage.fromEcrRepository(
      ecr.Repository.fromRepositoryName(stack, "Repo", svc.repository), tag.valueAsString),
    portMappings: [{ containerPort: svc.port }],
    logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: svc.discovery_name }),
    environment,
    secrets,
    user: svc.user,
    readonlyRootFilesystem: true,
  });
  svc.writable_paths.forEach((path, i) => {
    task.addVolume({ name: `scratch${i}` });
    container.addMountPoints({ sourceVolume: `scratch${i}`, containerPath: path, readOnly: false });
  });
  const strategies = [{ capacityProvider: "FARGATE", base: 1, weight: 1 }];
  if (env.fargate_spot_weight) {
    strategies.push({ capacityProvider: "FARGATE_SPOT", weight: env.fargate_spot_weight });
  }
  const fargate = new ecs.FargateService(stack, "Service", {
    cluster: shared.cluster,
    taskDefinition: task,
    desiredCount: size.desired_count,
    circuitBreaker: { rollback: true },
    capacityProviderStrategies: strategies,
    cloudMapOptions: { name: svc.discovery_name },
    healthCheckGracePeriod: cdk.Duration.seconds(size.health_check_grace_seconds),
  });
  const group = new elbv2.ApplicationTargetGroup(stack, "Targets", {
    vpc: shared.vpc,
    port: svc.port,
    protocol: elbv2.ApplicationProtocol.HTTP,
    targets: [fargate],
    deregistrationDelay: cdk.Duration.seconds(size.deregistration_delay_seconds),
    healthCheck: {
      path: svc.health_check_path,
      interval: cdk.Duration.seconds(size.health_check_interval_seconds),
      timeout: cdk.Duration.seconds(size.health_check_timeout_seconds),
      healthyThresholdCount: size.healthy_threshold,
      unhealthyThresholdCount: size.unhealthy_threshold,
    },
  });
  new elbv2.ApplicationListenerRule(stack, "Rule", {
    listener: shared.listener,
    priority: svc.listener_priority,
    conditions: [elbv2.ListenerCondition.pathPatterns(svc.path_patterns)],
    action: elbv2.ListenerAction.forward([group]),
  });
  fargate.connections.allowFrom(shared.alb, ec2.Port.tcp(svc.port));
  if (size.autoscaling) {
    fargate.autoScaleTaskCount({ minCapacity: size.min_count, maxCapacity: size.max_count })
      .scaleOnCpuUtilization("Cpu", {
        targetUtilizationPercent: size.cpu_target_percent,
        scaleInCooldown: cdk.Duration.seconds(size.scale_in_cooldown_seconds),
        scaleOutCooldown: cdk.Duration.seconds(size.scale_out_cooldown_seconds),
      });
  }
  const minutes = env.alarm_evaluation_minutes;
  new cloudwatch.Alarm(stack, "Errors5xx", {
    metric: group.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT,
      { period: cdk.Duration.minutes(1) }),
    threshold: env.alarm_5xx_per_minute,
    evaluationPeriods: minutes,
  });
  new cloudwatch.Alarm(stack, "Unhealthy", {
    metric: group.metrics.unhealthyHostCount({ period: cdk.Duration.minutes(1) }),
    threshold: env.alarm_unhealthy_targets,
    evaluationPeriods: minutes,
  });
}

const app = new cdk.App({ outdir });
for (const env of Object.values(platform.environments)) {
  const stack = new cdk.Stack(app, `${env.project}-${env.name}`, {
    env: { account: env.account_id, region: env.region },
  });
  const vpc = network(stack, env);
  const key = env.kms_log_encryption ? new kms.Key(stack, "LogsKey", { enableKeyRotation: true })
    : undefined;
  const cluster = new ecs.Cluster(stack, "Cluster", {
    vpc,
    enableFargateCapacityProviders: true,
    defaultCloudMapNamespace: { name: env.discovery_namespace, vpc },
  });
  const listener = edge(stack, env, vpc);
  const shared = { vpc, cluster, listener, alb: listener.loadBalancer, key };
  for (const svc of env.services) service(stack, env, svc, shared);
}
app.synth();
