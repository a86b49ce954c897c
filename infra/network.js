// The network the database lives in, created by the template so that a deploy needs no
// default VPC. Two modes, chosen by DB_NETWORK (settings.js):
//
// - public (default): the functions run outside any VPC, as Lambda does by default, and
//   reach the instance over the internet: it sits in public subnets, has a public address,
//   and its security group admits 3306 from DB_ALLOWED_CIDR only. TLS (verified) and the
//   password (in Secrets Manager, rotated by RDS) protect it. No monthly network cost
//   beyond the instance's public IPv4 address.
// - private: the instance has no public address and sits in private subnets; the store
//   functions run in those subnets with a security group of their own, which is the only
//   source the database admits. Their way out (the management API to post to connections,
//   Secrets Manager for the password) is one NAT gateway in a public subnet. An interface
//   endpoint cannot replace it for the management API: an execute-api endpoint serves only
//   private REST APIs, and with private DNS on it hides every public API of the region from
//   the VPC, this one's @connections included. A Secrets Manager endpoint would only
//   duplicate a path the NAT already gives, for about $14.60/month more (2 AZs).
//
// Every subnet is in one of two availability zones (the first two of the region), which RDS
// requires of a DB subnet group.
'use strict';

const NETWORK_MODES = ['public', 'private'];

/** The VPC's range; subnets are /24s inside it. Change it here if it clashes with a network you peer with. */
const VPC_CIDR = '10.0.0.0/16';
const SUBNET_CIDRS = {
  PublicSubnetA: '10.0.0.0/24',
  PublicSubnetB: '10.0.1.0/24',
  PrivateSubnetA: '10.0.10.0/24',
  PrivateSubnetB: '10.0.11.0/24',
};

const MYSQL_PORT = 3306;

/** Where the store functions run in private mode (infra/roles.js scopes their network permissions to these). */
const FUNCTION_SUBNETS = ['PrivateSubnetA', 'PrivateSubnetB'];
const FUNCTIONS_SECURITY_GROUP = 'FunctionsSecurityGroup';

/**
 * The logical id of the database's subnet group in each mode. They differ on purpose: RDS
 * refuses to change the subnets of a subnet group its instance sits in, so an update in place
 * rolls back. With a new logical id, a switch creates the other mode's group, and a new
 * DBSubnetGroupName replaces the instance (the property is create-only in the resource's
 * schema): a new, empty instance in the new subnets, the old one kept as a final snapshot
 * (UpdateReplacePolicy: Snapshot). The public id is the one stacks deployed before had.
 */
const DB_SUBNET_GROUPS = { public: 'DatabaseSubnetGroup', private: 'PrivateDatabaseSubnetGroup' };

const availabilityZone = (index) => ({ 'Fn::Select': [index, { 'Fn::GetAZs': '' }] });
const nameTag = (name) => [{ Key: 'Name', Value: { 'Fn::Sub': `\${AWS::StackName}-${name}` } }];
const ref = (logicalId) => ({ Ref: logicalId });

function subnet(logicalId, zoneIndex, name) {
  return {
    Type: 'AWS::EC2::Subnet',
    Properties: {
      VpcId: ref('Vpc'),
      AvailabilityZone: availabilityZone(zoneIndex),
      CidrBlock: SUBNET_CIDRS[logicalId],
      // Nothing in these subnets gets an address by itself; RDS gives the public instance its own.
      MapPublicIpOnLaunch: false,
      Tags: nameTag(name),
    },
  };
}

function association(subnetId, routeTableId) {
  return {
    Type: 'AWS::EC2::SubnetRouteTableAssociation',
    Properties: { SubnetId: ref(subnetId), RouteTableId: ref(routeTableId) },
  };
}

/** What both modes have: the VPC, its internet gateway, and two public subnets routed to it. */
function commonResources() {
  return {
    Vpc: {
      Type: 'AWS::EC2::VPC',
      Properties: {
        CidrBlock: VPC_CIDR,
        // RDS endpoints are DNS names; a public instance needs DNS hostnames in its VPC.
        EnableDnsSupport: true,
        EnableDnsHostnames: true,
        Tags: nameTag('vpc'),
      },
    },
    InternetGateway: { Type: 'AWS::EC2::InternetGateway', Properties: { Tags: nameTag('igw') } },
    InternetGatewayAttachment: {
      Type: 'AWS::EC2::VPCGatewayAttachment',
      Properties: { VpcId: ref('Vpc'), InternetGatewayId: ref('InternetGateway') },
    },
    PublicSubnetA: subnet('PublicSubnetA', 0, 'public-a'),
    PublicSubnetB: subnet('PublicSubnetB', 1, 'public-b'),
    PublicRouteTable: {
      Type: 'AWS::EC2::RouteTable',
      Properties: { VpcId: ref('Vpc'), Tags: nameTag('public') },
    },
    PublicDefaultRoute: {
      Type: 'AWS::EC2::Route',
      // A route to an internet gateway fails until the gateway is attached to the VPC.
      DependsOn: 'InternetGatewayAttachment',
      Properties: {
        RouteTableId: ref('PublicRouteTable'),
        DestinationCidrBlock: '0.0.0.0/0',
        GatewayId: ref('InternetGateway'),
      },
    },
    PublicSubnetARouteTableAssociation: association('PublicSubnetA', 'PublicRouteTable'),
    PublicSubnetBRouteTableAssociation: association('PublicSubnetB', 'PublicRouteTable'),
  };
}

/** Private subnets, their way out through one NAT gateway, and the store functions' security group. */
function privateResources() {
  return {
    PrivateSubnetA: subnet('PrivateSubnetA', 0, 'private-a'),
    PrivateSubnetB: subnet('PrivateSubnetB', 1, 'private-b'),
    NatGatewayAddress: {
      Type: 'AWS::EC2::EIP',
      DependsOn: 'InternetGatewayAttachment',
      Properties: { Domain: 'vpc', Tags: nameTag('nat') },
    },
    // One NAT gateway for both zones: should its zone fail, the functions in the other lose
    // their way out too. A second one (about $32.85/month more) in PublicSubnetB, with a route
    // table per zone, removes that.
    NatGateway: {
      Type: 'AWS::EC2::NatGateway',
      Properties: {
        AllocationId: { 'Fn::GetAtt': ['NatGatewayAddress', 'AllocationId'] },
        SubnetId: ref('PublicSubnetA'),
        Tags: nameTag('nat'),
      },
    },
    PrivateRouteTable: {
      Type: 'AWS::EC2::RouteTable',
      Properties: { VpcId: ref('Vpc'), Tags: nameTag('private') },
    },
    PrivateDefaultRoute: {
      Type: 'AWS::EC2::Route',
      Properties: {
        RouteTableId: ref('PrivateRouteTable'),
        DestinationCidrBlock: '0.0.0.0/0',
        NatGatewayId: ref('NatGateway'),
      },
    },
    PrivateSubnetARouteTableAssociation: association('PrivateSubnetA', 'PrivateRouteTable'),
    PrivateSubnetBRouteTableAssociation: association('PrivateSubnetB', 'PrivateRouteTable'),
    FunctionsSecurityGroup: {
      Type: 'AWS::EC2::SecurityGroup',
      Properties: {
        GroupDescription: { 'Fn::Sub': 'Store functions of ${AWS::StackName}: HTTPS out and MySQL to the database' },
        VpcId: ref('Vpc'),
        // Nothing connects to a Lambda function; it only connects out. (The VPC's DNS
        // resolver is not subject to security groups.)
        SecurityGroupEgress: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            CidrIp: '0.0.0.0/0',
            Description: 'HTTPS through the NAT gateway: the management API and Secrets Manager',
          },
        ],
        Tags: nameTag('functions'),
      },
    },
    // Its own resource: inline, the two security groups would reference each other (a cycle).
    FunctionsToDatabaseEgress: {
      Type: 'AWS::EC2::SecurityGroupEgress',
      Properties: {
        GroupId: { 'Fn::GetAtt': ['FunctionsSecurityGroup', 'GroupId'] },
        IpProtocol: 'tcp',
        FromPort: MYSQL_PORT,
        ToPort: MYSQL_PORT,
        DestinationSecurityGroupId: { 'Fn::GetAtt': ['DatabaseSecurityGroup', 'GroupId'] },
        Description: 'MySQL to the connections database',
      },
    },
  };
}

/**
 * The network of one mode: the resources to add to the template, and the values that
 * serverless.yml puts into the database's and the store functions' definitions.
 */
function networkFor(mode, settings) {
  if (!NETWORK_MODES.includes(mode)) {
    throw new Error(`DB_NETWORK must be one of ${NETWORK_MODES.join(', ')}, got "${mode}".`);
  }
  const isPrivate = mode === 'private';
  const dbSubnets = isPrivate ? ['PrivateSubnetA', 'PrivateSubnetB'] : ['PublicSubnetA', 'PublicSubnetB'];
  const dbSubnetGroup = DB_SUBNET_GROUPS[mode];
  const resources = {
    ...commonResources(),
    ...(isPrivate ? privateResources() : {}),
    [dbSubnetGroup]: {
      Type: 'AWS::RDS::DBSubnetGroup',
      Properties: {
        DBSubnetGroupDescription: {
          'Fn::Sub': `Connections database of \${AWS::StackName} (${isPrivate ? 'private' : 'public'} subnets)`,
        },
        SubnetIds: dbSubnets.map(ref),
      },
    },
  };
  const dbIngress = isPrivate
    ? [
        {
          IpProtocol: 'tcp',
          FromPort: MYSQL_PORT,
          ToPort: MYSQL_PORT,
          SourceSecurityGroupId: { 'Fn::GetAtt': ['FunctionsSecurityGroup', 'GroupId'] },
          Description: 'MySQL from the store functions only',
        },
      ]
    : [
        {
          IpProtocol: 'tcp',
          FromPort: MYSQL_PORT,
          ToPort: MYSQL_PORT,
          CidrIp: settings.DB_ALLOWED_CIDR ?? '0.0.0.0/0',
          Description: 'MySQL over TLS from DB_ALLOWED_CIDR (Lambda outside a VPC has no fixed addresses)',
        },
      ];
  return {
    mode,
    resources,
    dbSubnetGroup,
    dbPubliclyAccessible: !isPrivate,
    dbIngress,
    /** The store functions' `vpc:`; null keeps them outside any VPC. */
    storeVpc: isPrivate
      ? {
          securityGroupIds: [{ 'Fn::GetAtt': [FUNCTIONS_SECURITY_GROUP, 'GroupId'] }],
          subnetIds: FUNCTION_SUBNETS.map(ref),
        }
      : null,
  };
}

module.exports = { NETWORK_MODES, VPC_CIDR, DB_SUBNET_GROUPS, FUNCTION_SUBNETS, FUNCTIONS_SECURITY_GROUP, networkFor };
