package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// StackName is the stack's name; the queue prefix derives from it.
const StackName = "PhoneShieldWebhooks"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		jsii.Close()
		os.Exit(1)
	}
	jsii.Close()
}

func run() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	setJSIIDefaults(root)
	app := awscdk.NewApp(nil)
	params, err := ParamsFromContext(func(k string) any { return app.Node().TryGetContext(jsii.String(k)) })
	if err != nil {
		return err
	}
	if err := BuildLambdas(root, os.Stderr); err != nil {
		return err
	}
	NewStack(app, StackName, &StackProps{Params: params, Assets: LambdaAssets(root)})
	// cdk-nag's AwsSolutions pack: a finding not suppressed (with its
	// reason, next to the construct) is an error and fails cdk synth.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return nil
}

// setJSIIDefaults keeps jsii's package cache (~210 MB) in the build area
// and silences its end-of-life banner for node 20, unless the caller set
// them. The jsii kernel process is started while packages initialize,
// before main runs, with the environment of that moment: so this restarts
// it (jsii.Close; the next call starts a new one), which is cheap before
// anything was loaded. cdk.json sets both variables too, so the first
// kernel process doesn't print the banner either.
func setJSIIDefaults(root string) {
	restart := false
	if os.Getenv("JSII_RUNTIME_PACKAGE_CACHE_ROOT") == "" {
		os.Setenv("JSII_RUNTIME_PACKAGE_CACHE_ROOT", filepath.Join(root, "build", "jsii-cache"))
		restart = true
	}
	if os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION") == "" {
		os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
		restart = true
	}
	if restart {
		jsii.Close()
	}
}

// repoRoot finds the module root (go.mod) from the working directory up:
// cdk runs the app from the repository root, `go test` from infra/.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/phoneshield/webhooks\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod of github.com/phoneshield/webhooks) not found above the working directory")
		}
		dir = parent
	}
}

// BuildLambdas runs scripts/build-lambdas.sh, which builds every
// functions/<name> into build/lambda/<name>/bootstrap (linux/arm64,
// reproducible), writing its output to w.
func BuildLambdas(root string, w io.Writer) error {
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "build-lambdas.sh"))
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), "GOARCH=arm64", "OUT=build/lambda")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the Lambda binaries (scripts/build-lambdas.sh): %w", err)
	}
	return nil
}

// LambdaAssets returns the asset folders BuildLambdas made. The management
// API is included only once its function exists (functions/api).
func LambdaAssets(root string) Assets {
	dir := filepath.Join(root, "build", "lambda")
	a := Assets{Filter: filepath.Join(dir, "filter"), Deliver: filepath.Join(dir, "deliver")}
	if _, err := os.Stat(filepath.Join(root, "functions", "api", "main.go")); err == nil {
		a.API = filepath.Join(dir, "api")
	}
	return a
}
