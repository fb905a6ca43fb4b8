package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// Egress is the optional network for static egress IPs: a VPC over two
// availability zones, the deliver function in its private subnets, and a
// NAT gateway per zone with an Elastic IP the stack allocates (and
// outputs), so receivers can allow-list two addresses.
type Egress struct {
	vpc  awsec2.Vpc
	sg   awsec2.SecurityGroup
	eips []awsec2.CfnEIP
}

const egressAZs = 2

func newEgress(stack awscdk.Stack, p Params) *Egress {
	e := &Egress{}
	var alloc []*string
	for i := range egressAZs {
		eip := awsec2.NewCfnEIP(stack, jsii.String(fmt.Sprintf("EgressEip%d", i+1)), &awsec2.CfnEIPProps{
			Domain: jsii.String("vpc"),
			Tags:   &[]*awscdk.CfnTag{{Key: jsii.String("Name"), Value: jsii.String(fmt.Sprintf("%s egress %d", *stack.StackName(), i+1))}},
		})
		// Receivers allow-list these addresses: in production they are
		// kept if the stack goes, so a redeploy can't silently change them
		// (release them by hand when no longer needed).
		eip.ApplyRemovalPolicy(removalPolicy(p.Environment == EnvProduction), nil)
		e.eips = append(e.eips, eip)
		alloc = append(alloc, eip.AttrAllocationId())
	}
	flowLogs := awslogs.NewLogGroup(stack, jsii.String("EgressFlowLogs"), &awslogs.LogGroupProps{
		Retention:     retention(p.LogRetentionDays),
		RemovalPolicy: removalPolicy(p.Environment == EnvProduction),
	})
	e.vpc = awsec2.NewVpc(stack, jsii.String("EgressVpc"), &awsec2.VpcProps{
		IpAddresses:        awsec2.IpAddresses_Cidr(jsii.String("10.42.0.0/16")),
		MaxAzs:             jsii.Number(egressAZs),
		NatGateways:        jsii.Number(egressAZs),
		NatGatewayProvider: awsec2.NatProvider_Gateway(&awsec2.NatGatewayProps{EipAllocationIds: &alloc}),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
		},
		// Nothing uses the default security group; restricting it would
		// take a custom-resource Lambda (Node.js, managed policy) for no
		// gain in a VPC that holds only this function.
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		// Rejected traffic is what explains a delivery that never
		// connected; accepted traffic is in the delivery log already.
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"Rejected": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
				TrafficType: awsec2.FlowLogTrafficType_REJECT,
			},
		},
		// DynamoDB traffic stays off the NAT gateways (free endpoint).
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
		},
	})
	e.sg = awsec2.NewSecurityGroup(stack, jsii.String("DeliverSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         e.vpc,
		Description: jsii.String("Deliver function: no inbound; outbound to receivers on any port (endpoint URLs may name one)"),
		// Receivers may listen on any port an https:// URL names.
		AllowAllOutbound: jsii.Bool(true),
	})
	return e
}

// place puts the function in the private subnets.
func (e *Egress) place(fp *awslambda.FunctionProps) {
	fp.Vpc = e.vpc
	fp.VpcSubnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	fp.SecurityGroups = &[]awsec2.ISecurityGroup{e.sg}
}

// grant gives the function's role what Lambda needs to manage its network
// interfaces (AWSLambdaVPCAccessExecutionRole's EC2 part, written out).
func (e *Egress) grant(s *Stack, role awsiam.IRole) {
	// Describe* actions support no resource-level permissions.
	role.AddToPrincipalPolicy(allow([]string{"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"}, "*"))
	// Lambda creates and deletes its interfaces with the role, checking
	// the permission at deploy time on interface ids not known yet; the
	// Lambda guide gives the account and region's EC2 resources as the
	// narrowest form that works.
	ec2Any := *s.Stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ec2"), Resource: jsii.String("*"), ResourceName: jsii.String("*"),
		ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
	role.AddToPrincipalPolicy(allow([]string{
		"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
		"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
	}, ec2Any))
	suppress(role, "AwsSolutions-IAM5",
		"ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets support no resource-level permissions (Resource must be *).",
		"Resource::*")
	suppress(role, "AwsSolutions-IAM5",
		"Lambda manages the function's VPC network interfaces with its role and checks the permission before the interfaces exist; the Lambda developer guide gives arn:aws:ec2:<region>:<account>:*/* as the form to use.",
		"Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:*/*")
}
