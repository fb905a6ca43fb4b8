package awsapp

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// LambdaAWSConfig builds the SDK configuration from the variables the
// Lambda runtime sets (AWS_REGION and the execution role's
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, valid for
// the life of the execution environment). It replaces
// config.LoadDefaultConfig, whose SSO, STS and IMDS providers a Lambda
// never uses but would carry in its binary (~2 MB) and its init time.
func LambdaAWSConfig(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		return aws.Config{}, fmt.Errorf("AWS_REGION: required")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: required (set by the Lambda runtime)")
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))),
	}, nil
}

// MustLoad is the mains' start-up: it sets JSON logging, reads the
// configuration and the Lambda's AWS configuration from the environment,
// and exits the process with the error logged if either is bad (a Lambda
// fails fast at init rather than on its first event). controlPlane asks
// for the management function's extra variables too.
func MustLoad(controlPlane bool) (Config, aws.Config) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	cfg, err := FromEnv(os.Getenv)
	if err == nil && controlPlane {
		err = cfg.RequireControlPlane()
	}
	var awsCfg aws.Config
	if err == nil {
		awsCfg, err = LambdaAWSConfig(os.Getenv)
	}
	if err != nil {
		slog.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	return cfg, awsCfg
}
