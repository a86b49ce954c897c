// What the identity that runs `npm run deploy` / `npm run remove` must be allowed, derived from
// the CloudFormation resource types the templates hold (both DB_NETWORK modes, with and without
// auth): CloudFormation calls each type's create, update, read and delete handlers with the
// caller's permissions. docs/deploy-permissions.md shows the same table; test/deploy checks that
// every type a packaged template holds is here, that the doc's table equals this one, and that
// `npm run deploy -- --print-policy` prints deployerPolicy().
'use strict';

const { SERVICE } = require('../settings');

/** Tags the framework and RDS put on what they create. */
const TAGS = (prefix) => [`${prefix}:TagResource`, `${prefix}:UntagResource`];

/** Each resource type of the templates, and the IAM actions CloudFormation needs for its whole life. */
const RESOURCE_ACTIONS = {
  // The deployment bucket, the zip the framework uploads to it, and its emptying on remove.
  'AWS::S3::Bucket': [
    's3:CreateBucket',
    's3:DeleteBucket',
    's3:ListBucket',
    's3:ListBucketVersions',
    's3:GetBucketLocation',
    's3:PutEncryptionConfiguration',
    's3:GetEncryptionConfiguration',
    's3:PutObject',
    's3:GetObject',
    's3:DeleteObject',
    's3:DeleteObjectVersion',
  ],
  'AWS::S3::BucketPolicy': ['s3:PutBucketPolicy', 's3:GetBucketPolicy', 's3:DeleteBucketPolicy'],
  'AWS::Logs::LogGroup': [
    'logs:CreateLogGroup',
    'logs:DeleteLogGroup',
    'logs:DescribeLogGroups',
    'logs:PutRetentionPolicy',
    'logs:DeleteRetentionPolicy',
    'logs:ListTagsForResource',
    ...TAGS('logs'),
  ],
  // A function in a VPC: Lambda checks that the caller may see its subnets and security groups.
  'AWS::Lambda::Function': [
    'lambda:CreateFunction',
    'lambda:DeleteFunction',
    'lambda:GetFunction',
    'lambda:GetFunctionConfiguration',
    'lambda:UpdateFunctionCode',
    'lambda:UpdateFunctionConfiguration',
    'lambda:PutFunctionConcurrency',
    'lambda:DeleteFunctionConcurrency',
    'lambda:ListTags',
    ...TAGS('lambda'),
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeSubnets',
    'ec2:DescribeVpcs',
  ],
  'AWS::Lambda::Version': ['lambda:PublishVersion', 'lambda:ListVersionsByFunction'],
  // The schema's custom resource (infra/schema.js): CloudFormation invokes its function (the
  // ServiceToken) with the caller's permissions, at each Create, Update and Delete.
  'Custom::DatabaseSchema': ['lambda:InvokeFunction'],
  'AWS::Lambda::Permission': ['lambda:AddPermission', 'lambda:RemovePermission', 'lambda:GetPolicy'],
  // The deliver function's retries and on-failure destination (the queue it keeps failed shards
  // in, and the alarm on that queue, are below).
  'AWS::Lambda::EventInvokeConfig': [
    'lambda:PutFunctionEventInvokeConfig',
    'lambda:UpdateFunctionEventInvokeConfig',
    'lambda:GetFunctionEventInvokeConfig',
    'lambda:DeleteFunctionEventInvokeConfig',
  ],
  // The departures function's event source: Lambda polls the departures queue with the
  // function's role, but the mapping itself is made, changed and removed with the caller's.
  'AWS::Lambda::EventSourceMapping': [
    'lambda:CreateEventSourceMapping',
    'lambda:UpdateEventSourceMapping',
    'lambda:DeleteEventSourceMapping',
    'lambda:GetEventSourceMapping',
    'lambda:ListEventSourceMappings',
    'lambda:ListTags',
    ...TAGS('lambda'),
  ],
  // The shard-failures queue and the departures queue.
  'AWS::SQS::Queue': [
    'sqs:CreateQueue',
    'sqs:DeleteQueue',
    'sqs:GetQueueAttributes',
    'sqs:SetQueueAttributes',
    'sqs:GetQueueUrl',
    'sqs:ListQueueTags',
    'sqs:TagQueue',
    'sqs:UntagQueue',
  ],
  'AWS::CloudWatch::Alarm': [
    'cloudwatch:PutMetricAlarm',
    'cloudwatch:DeleteAlarms',
    'cloudwatch:DescribeAlarms',
    'cloudwatch:ListTagsForResource',
    'cloudwatch:TagResource',
    'cloudwatch:UntagResource',
  ],
  'AWS::Events::Rule': [
    'events:PutRule',
    'events:DeleteRule',
    'events:DescribeRule',
    'events:PutTargets',
    'events:RemoveTargets',
    'events:ListTargetsByRule',
  ],
  // The stage's lifecycle-event bus (docs/events.md).
  'AWS::Events::EventBus': [
    'events:CreateEventBus',
    'events:DeleteEventBus',
    'events:DescribeEventBus',
    'events:UpdateEventBus',
    'events:ListTagsForResource',
    'events:TagResource',
    'events:UntagResource',
  ],
  // API Gateway's IAM actions are the HTTP methods of its control API (…::/apis/…).
  'AWS::ApiGatewayV2::Api': ['apigateway:GET', 'apigateway:POST', 'apigateway:PATCH', 'apigateway:DELETE'],
  'AWS::ApiGatewayV2::Authorizer': ['apigateway:GET', 'apigateway:POST', 'apigateway:PATCH', 'apigateway:DELETE'],
  'AWS::ApiGatewayV2::Deployment': ['apigateway:GET', 'apigateway:POST', 'apigateway:PATCH', 'apigateway:DELETE'],
  'AWS::ApiGatewayV2::Integration': ['apigateway:GET', 'apigateway:POST', 'apigateway:PATCH', 'apigateway:DELETE'],
  'AWS::ApiGatewayV2::Route': ['apigateway:GET', 'apigateway:POST', 'apigateway:PATCH', 'apigateway:DELETE'],
  'AWS::ApiGatewayV2::Stage': ['apigateway:GET', 'apigateway:POST', 'apigateway:PATCH', 'apigateway:DELETE'],
  'AWS::EC2::VPC': [
    'ec2:CreateVpc',
    'ec2:DeleteVpc',
    'ec2:DescribeVpcs',
    'ec2:ModifyVpcAttribute',
    'ec2:DescribeVpcAttribute',
    'ec2:CreateTags',
    'ec2:DeleteTags',
  ],
  'AWS::EC2::InternetGateway': [
    'ec2:CreateInternetGateway',
    'ec2:DeleteInternetGateway',
    'ec2:DescribeInternetGateways',
    'ec2:CreateTags',
  ],
  'AWS::EC2::VPCGatewayAttachment': [
    'ec2:AttachInternetGateway',
    'ec2:DetachInternetGateway',
    'ec2:DescribeInternetGateways',
  ],
  // Fn::GetAZs reads the region's zones.
  'AWS::EC2::Subnet': [
    'ec2:CreateSubnet',
    'ec2:DeleteSubnet',
    'ec2:DescribeSubnets',
    'ec2:ModifySubnetAttribute',
    'ec2:DescribeAvailabilityZones',
    'ec2:CreateTags',
  ],
  'AWS::EC2::RouteTable': ['ec2:CreateRouteTable', 'ec2:DeleteRouteTable', 'ec2:DescribeRouteTables', 'ec2:CreateTags'],
  'AWS::EC2::Route': ['ec2:CreateRoute', 'ec2:DeleteRoute', 'ec2:ReplaceRoute', 'ec2:DescribeRouteTables'],
  'AWS::EC2::SubnetRouteTableAssociation': [
    'ec2:AssociateRouteTable',
    'ec2:DisassociateRouteTable',
    'ec2:ReplaceRouteTableAssociation',
    'ec2:DescribeRouteTables',
  ],
  // Private mode only: the NAT gateway's address and the gateway itself.
  'AWS::EC2::EIP': ['ec2:AllocateAddress', 'ec2:ReleaseAddress', 'ec2:DescribeAddresses', 'ec2:CreateTags'],
  'AWS::EC2::NatGateway': ['ec2:CreateNatGateway', 'ec2:DeleteNatGateway', 'ec2:DescribeNatGateways', 'ec2:CreateTags'],
  'AWS::EC2::SecurityGroup': [
    'ec2:CreateSecurityGroup',
    'ec2:DeleteSecurityGroup',
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeSecurityGroupRules',
    'ec2:AuthorizeSecurityGroupIngress',
    'ec2:RevokeSecurityGroupIngress',
    'ec2:AuthorizeSecurityGroupEgress',
    'ec2:RevokeSecurityGroupEgress',
    'ec2:CreateTags',
  ],
  'AWS::EC2::SecurityGroupEgress': [
    'ec2:AuthorizeSecurityGroupEgress',
    'ec2:RevokeSecurityGroupEgress',
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeSecurityGroupRules',
  ],
  'AWS::RDS::DBParameterGroup': [
    'rds:CreateDBParameterGroup',
    'rds:ModifyDBParameterGroup',
    'rds:DeleteDBParameterGroup',
    'rds:DescribeDBParameterGroups',
    'rds:DescribeDBParameters',
    'rds:AddTagsToResource',
    'rds:RemoveTagsFromResource',
    'rds:ListTagsForResource',
  ],
  'AWS::RDS::DBSubnetGroup': [
    'rds:CreateDBSubnetGroup',
    'rds:ModifyDBSubnetGroup',
    'rds:DeleteDBSubnetGroup',
    'rds:DescribeDBSubnetGroups',
    'rds:AddTagsToResource',
    'rds:ListTagsForResource',
  ],
  // ManageMasterUserPassword: RDS creates the secret with the caller's permissions, and needs
  // kms:DescribeKey on the key that encrypts it (the RDS guide, "Password management with Amazon
  // RDS and AWS Secrets Manager"); StorageEncrypted uses the account's aws/rds key (a grant).
  // DeletionPolicy Snapshot: the final snapshot of a remove or a replacement.
  'AWS::RDS::DBInstance': [
    'rds:CreateDBInstance',
    'rds:ModifyDBInstance',
    'rds:DeleteDBInstance',
    'rds:DescribeDBInstances',
    'rds:CreateDBSnapshot',
    'rds:DescribeDBSnapshots',
    'rds:AddTagsToResource',
    'rds:RemoveTagsFromResource',
    'rds:ListTagsForResource',
    'secretsmanager:CreateSecret',
    'secretsmanager:TagResource',
    'secretsmanager:RotateSecret',
    'secretsmanager:DescribeSecret',
    'kms:DescribeKey',
    'kms:CreateGrant',
    // RDS's service-linked role, created by the account's first instance.
    'iam:CreateServiceLinkedRole',
  ],
  // HS256 auth without AUTH_JWT_SECRET_ARN: the generated key.
  'AWS::SecretsManager::Secret': [
    'secretsmanager:CreateSecret',
    'secretsmanager:DeleteSecret',
    'secretsmanager:DescribeSecret',
    'secretsmanager:UpdateSecret',
    'secretsmanager:GetRandomPassword',
    ...TAGS('secretsmanager'),
  ],
  // The functions' roles (their names start with the stack's) and their hand-over to Lambda.
  // DetachRolePolicy: stacks deployed before the inline VPC statements had a managed policy.
  'AWS::IAM::Role': [
    'iam:CreateRole',
    'iam:DeleteRole',
    'iam:GetRole',
    'iam:UpdateRole',
    'iam:UpdateAssumeRolePolicy',
    'iam:PutRolePolicy',
    'iam:GetRolePolicy',
    'iam:DeleteRolePolicy',
    'iam:ListRolePolicies',
    'iam:ListAttachedRolePolicies',
    'iam:DetachRolePolicy',
    'iam:TagRole',
    'iam:UntagRole',
    'iam:PassRole',
  ],
};

/** What the framework does around the resources: the stack itself (change sets) and a template's validation. */
const STACK_ACTIONS = [
  'cloudformation:CreateStack',
  'cloudformation:UpdateStack',
  'cloudformation:DeleteStack',
  'cloudformation:DescribeStacks',
  'cloudformation:DescribeStackEvents',
  'cloudformation:DescribeStackResource',
  'cloudformation:DescribeStackResources',
  'cloudformation:ListStackResources',
  'cloudformation:GetTemplate',
  'cloudformation:CreateChangeSet',
  'cloudformation:DescribeChangeSet',
  'cloudformation:ExecuteChangeSet',
  'cloudformation:DeleteChangeSet',
  'cloudformation:SetStackPolicy',
];
/** Account-wide actions IAM takes on `*` only. */
const ACCOUNT_ACTIONS = ['cloudformation:ValidateTemplate'];

/** IAM actions with a statement of their own (a condition), not the roles' statement. */
const ROLE_SPECIAL = ['iam:PassRole', 'iam:CreateServiceLinkedRole'];

const sorted = (values) => [...new Set(values)].sort();

/**
 * The IAM policy for all of it. The stack's and the roles' actions are scoped to this service's
 * names (`aws-node-websockets-<stage>`, and roles named after their stack); the rest is on `*`:
 * most of these actions take no resource before the resource exists (a Create* names nothing yet)
 * and the ids are CloudFormation's to choose. `partition` is `aws`, `aws-cn` or `aws-us-gov`.
 */
function deployerPolicy({ partition = 'aws' } = {}) {
  const all = Object.values(RESOURCE_ACTIONS).flat();
  const iam = all.filter((action) => action.startsWith('iam:') && !ROLE_SPECIAL.includes(action));
  const rest = all.filter((action) => !action.startsWith('iam:') && action !== 'lambda:InvokeFunction');
  const role = `arn:${partition}:iam::*:role/${SERVICE}-*`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OwnStacksOnly',
        Effect: 'Allow',
        Action: sorted(STACK_ACTIONS),
        Resource: `arn:${partition}:cloudformation:*:*:stack/${SERVICE}-*/*`,
      },
      { Sid: 'ValidateTemplates', Effect: 'Allow', Action: sorted(ACCOUNT_ACTIONS), Resource: '*' },
      { Sid: 'OwnRolesOnly', Effect: 'Allow', Action: sorted(iam), Resource: role },
      {
        Sid: 'PassOwnRolesToLambdaOnly',
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: role,
        Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
      },
      {
        Sid: 'RdsServiceLinkedRoleOnly',
        Effect: 'Allow',
        Action: 'iam:CreateServiceLinkedRole',
        Resource: `arn:${partition}:iam::*:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS`,
        Condition: { StringEquals: { 'iam:AWSServiceName': 'rds.amazonaws.com' } },
      },
      // The schema's custom resource: CloudFormation invokes its function as the caller; that one only.
      {
        Sid: 'InvokeOwnSchemaFunctionOnly',
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: `arn:${partition}:lambda:*:*:function:${SERVICE}-*-schema`,
      },
      { Sid: 'TheTemplatesResources', Effect: 'Allow', Action: sorted(rest), Resource: '*' },
    ],
  };
}

/** The resource types of a CloudFormation template. */
function resourceTypesOf(template) {
  return sorted(Object.values(template.Resources ?? {}).map((resource) => resource.Type));
}

module.exports = { RESOURCE_ACTIONS, STACK_ACTIONS, ACCOUNT_ACTIONS, deployerPolicy, resourceTypesOf };
