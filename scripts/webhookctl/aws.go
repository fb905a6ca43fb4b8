package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/phoneshield/webhooks/shared/apiclient"
)

// aws returns the SDK configuration: the default chain (environment,
// shared config and credentials files, SSO, web identity, instance role),
// with --region if given.
func (a *app) aws(ctx context.Context) (aws.Config, error) {
	if a.awsCfg != nil {
		return *a.awsCfg, nil
	}
	var opts []func(*config.LoadOptions) error
	if a.g.Region != "" {
		opts = append(opts, config.WithRegion(a.g.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	a.awsCfg = &cfg
	return cfg, nil
}

// stackOutput returns one of the stack's CloudFormation outputs (any of
// keys, first found).
func (a *app) stackOutput(ctx context.Context, keys ...string) (string, error) {
	stack := a.g.Stack
	if stack == "" {
		stack = os.Getenv(EnvStack)
	}
	if stack == "" {
		return "", usagef("--aws: needs --stack NAME (or $%s), or --api-url URL and --bus-name NAME", EnvStack)
	}
	if a.outputs == nil {
		cfg, err := a.aws(ctx)
		if err != nil {
			return "", err
		}
		if cfg.Region == "" {
			return "", usagef("--region: required (the AWS SDK has no region)")
		}
		dctx, cancel := context.WithTimeout(ctx, a.g.Timeout)
		out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(dctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
		cancel()
		if err != nil {
			return "", awsError("describe stack "+stack, err)
		}
		if len(out.Stacks) == 0 {
			return "", &exitError{code: ExitNotFound, err: fmt.Errorf("--stack: stack %s not found", stack)}
		}
		a.outputs = map[string]string{}
		for _, o := range out.Stacks[0].Outputs {
			a.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	}
	for _, k := range keys {
		if v := a.outputs[k]; v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("--stack: stack %s has no output %s (is it a PhoneShield Webhooks stack, deployed with the API?)", stack, strings.Join(keys, " or "))
}

// awsError maps an SDK error to webhookctl's exit codes: no answer is
// "unavailable", a missing stack "not found".
func awsError(op string, err error) error {
	var (
		api  smithy.APIError
		send *smithyhttp.RequestSendError
	)
	switch {
	case errors.As(err, &api):
		code := ExitError
		if strings.Contains(api.ErrorMessage(), "does not exist") {
			code = ExitNotFound
		}
		if strings.Contains(api.ErrorCode(), "Throttl") {
			code = ExitUnavailable
		}
		return &exitError{code: code, err: fmt.Errorf("%s: %s: %s", op, api.ErrorCode(), api.ErrorMessage())}
	case errors.As(err, &send), errors.Is(err, context.DeadlineExceeded):
		return &exitError{code: ExitUnavailable, err: fmt.Errorf("%s: %v", op, err)}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// putEventsAWS publishes entries to the stack's bus with the EventBridge
// client and returns the answer in PutEvents' JSON shape.
func (a *app) putEventsAWS(ctx context.Context, entries []apiclient.PutEventsEntry) (apiclient.PutEventsResult, error) {
	var res apiclient.PutEventsResult
	bus := a.g.BusName
	if bus == "" {
		var err error
		if bus, err = a.stackOutput(ctx, OutputBusName, OutputBusNameAlt); err != nil {
			return res, err
		}
	}
	cfg, err := a.aws(ctx)
	if err != nil {
		return res, err
	}
	in := &eventbridge.PutEventsInput{}
	for _, e := range entries {
		in.Entries = append(in.Entries, ebtypes.PutEventsRequestEntry{
			Source: aws.String(e.Source), DetailType: aws.String(e.DetailType),
			Detail: aws.String(e.Detail), EventBusName: aws.String(bus),
		})
	}
	ctx, cancel := context.WithTimeout(ctx, a.g.Timeout)
	defer cancel()
	out, err := eventbridge.NewFromConfig(cfg).PutEvents(ctx, in)
	if err != nil {
		return res, awsError("PutEvents to "+bus, err)
	}
	res.FailedEntryCount = int(out.FailedEntryCount)
	res.Entries = make([]struct {
		EventID      string `json:"EventId,omitempty"`
		ErrorCode    string `json:"ErrorCode,omitempty"`
		ErrorMessage string `json:"ErrorMessage,omitempty"`
	}, len(out.Entries))
	for i, e := range out.Entries {
		res.Entries[i].EventID = aws.ToString(e.EventId)
		res.Entries[i].ErrorCode = aws.ToString(e.ErrorCode)
		res.Entries[i].ErrorMessage = aws.ToString(e.ErrorMessage)
	}
	return res, nil
}
