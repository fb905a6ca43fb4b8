package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/phoneshield/webhooks/shared/apiclient"
)

// Exit codes (see the package comment).
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitNotFound    = 3
	ExitConflict    = 4
	ExitLimit       = 5
	ExitUnavailable = 6
)

// DefaultURL is local mode's default address.
const DefaultURL = "http://127.0.0.1:4000"

// Environment variables read for the defaults of --url and --stack.
const (
	EnvURL   = "WEBHOOKCTL_URL"
	EnvStack = "WEBHOOKCTL_STACK"
)

// Stack output keys webhookctl reads with --stack.
const (
	OutputAPIURL = "ApiUrl"
	// OutputBusName is the event bus's name; the stack calls it
	// EventBusName, and BusName is accepted too.
	OutputBusName    = "EventBusName"
	OutputBusNameAlt = "BusName"
)

// Run runs webhookctl with args (without the program name) and returns the
// exit code. It reads stdin only where a command is given "-" as a file.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	a.g.URL = os.Getenv(EnvURL)
	if a.g.URL == "" {
		a.g.URL = DefaultURL
	}
	a.g.Timeout = 30 * time.Second
	return a.exit(a.run(ctx, args))
}

// globals are the flags every command takes.
type globals struct {
	URL     string
	AWS     bool
	Stack   string
	Region  string
	APIURL  string
	BusName string
	JSON    bool
	Timeout time.Duration
}

type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	g              globals

	// Resolved on first use.
	client  *apiclient.Client
	awsCfg  *aws.Config
	outputs map[string]string
}

// usageError is a bad command line: exit 2.
type usageError struct {
	msg   string
	usage string // the command's usage line, if known
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// exitError carries its own exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errHelp: help was asked for and printed.
var errHelp = errors.New("help")

// errSilent: the failure was already reported; exit 1.
var errSilent = errors.New("silent")

func (a *app) exit(err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return ExitOK
	}
	if errors.Is(err, errSilent) {
		return ExitError
	}
	msg := apiclient.Redact(err.Error())
	var (
		ue *usageError
		ae *apiclient.Error
		ne *apiclient.NetworkError
		xe *exitError
	)
	code := ExitError
	switch {
	case errors.As(err, &ue):
		code = ExitUsage
		fmt.Fprintf(a.stderr, "webhookctl: %s\n", msg)
		if ue.usage != "" {
			fmt.Fprintf(a.stderr, "usage: %s\n", ue.usage)
		}
		fmt.Fprintln(a.stderr, "Run 'webhookctl help' for usage.")
		return code
	case errors.As(err, &xe):
		code = xe.code
	case errors.As(err, &ae):
		switch ae.Kind() {
		case apiclient.KindNotFound:
			code = ExitNotFound
			if strings.HasPrefix(ae.Message, "no such route") {
				msg += " (the server does not have this route yet: is it older than webhookctl?)"
			}
		case apiclient.KindConflict:
			code = ExitConflict
		case apiclient.KindLimit:
			code = ExitLimit
		case apiclient.KindUnavailable:
			code = ExitUnavailable
		}
	case errors.As(err, &ne):
		code = ExitUnavailable
		msg = "cannot reach the API: " + apiclient.Redact(ne.Error())
	case errors.Is(err, context.DeadlineExceeded):
		code = ExitUnavailable
	case errors.Is(err, context.Canceled):
		msg = "interrupted"
	}
	fmt.Fprintf(a.stderr, "webhookctl: %s\n", msg)
	return code
}

// command is a leaf command.
type command struct {
	name    string // "webhooks create"
	args    string // usage after the name
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

func commands() []command {
	return []command{
		{"webhooks create", "--url URL --event-type TYPE... [flags]", "create an endpoint (prints its secret, once)", cmdCreate},
		{"webhooks list", "", "list endpoints", cmdList},
		{"webhooks get", "ID", "show an endpoint", cmdGet},
		{"webhooks update", "ID [flags]", "change the fields given (--version N: only if still at version N)", cmdUpdate},
		{"webhooks delete", "ID", "delete an endpoint", cmdDelete},
		{"webhooks enable", "ID", "set an endpoint active", cmdEnable},
		{"webhooks disable", "ID", "set an endpoint inactive (its deliveries wait in the DLQ)", cmdDisable},
		{"webhooks rotate-secret", "ID [--overlap-hours 24]", "issue a new secret; the old one signs too during the overlap", cmdRotate},
		{"webhooks test", "ID [--event-type TYPE] [--detail FILE] [--body]", "send a test event now and show the exchange (exit 1 if not 2xx)", cmdTest},
		{"webhooks deliveries", "ID [--status S] [--event-type T] [--since T] [--until T] [--limit N] [--cursor C] [--all]", "an endpoint's delivery log, newest first", cmdDeliveries},
		{"webhooks delivery", "ID DELIVERY_ID [--body]", "one delivery with its request and attempts", cmdDelivery},
		{"dlq list", "[--endpoint ID] [--event-type T] [--since T] [--until T] [--limit N] [--cursor C] [--all]", "list dead letters", cmdDLQList},
		{"dlq show", "ID", "show one dead letter", cmdDLQShow},
		{"dlq redrive", "(ID | --all | [--endpoint ID] [--event-type T] [--since T] [--until T]) [--limit N]", "deliver dead letters again (calls until none remain)", cmdRedrive},
		{"dlq purge", "(ID | (--all | [--endpoint ID] [--event-type T] [--since T] [--until T]) --yes) [--limit N]", "delete dead letters for good", cmdPurge},
		{"dlq counts", "", "dead letters by endpoint and by event type", cmdCounts},
		{"event-types", "", "the event catalog, and what the plan allows", cmdEventTypes},
		{"plan", "", "the deployment's plan and its use", cmdPlan},
		{"events send", "TYPE [--detail FILE] [--event-id ID] [--source S]", "publish an event (the catalog sample by default)", cmdSend},
		{"filters test", "(--filter JSON|@FILE | --filter-text TEXT) [--event-type T] [--detail FILE | --delivery-id ID]", "check a filter against an event", cmdFilterTest},
	}
}

func (a *app) run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("webhookctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(a.stdout)
			return errHelp
		}
		return usagef("%v", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		a.usage(a.stderr)
		return &exitError{code: ExitUsage, err: errors.New("no command given")}
	}
	if rest[0] == "help" {
		return a.help(rest[1:])
	}
	cmd, n, err := lookup(rest)
	if err != nil {
		return err
	}
	return cmd.run(ctx, a, rest[n:])
}

// lookup finds the command named by the first one or two words of args
// and returns how many words it took.
func lookup(args []string) (command, int, error) {
	cmds := commands()
	if len(args) >= 2 {
		for _, c := range cmds {
			if c.name == args[0]+" "+args[1] {
				return c, 2, nil
			}
		}
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c, 1, nil
		}
	}
	var subs []string
	for _, c := range cmds {
		if g, sub, ok := strings.Cut(c.name, " "); ok && g == args[0] {
			subs = append(subs, sub)
		}
	}
	if len(subs) > 0 {
		if len(args) < 2 {
			return command{}, 0, usagef("%s: missing subcommand (one of: %s)", args[0], strings.Join(subs, ", "))
		}
		return command{}, 0, usagef("%s: unknown subcommand %q (one of: %s)", args[0], args[1], strings.Join(subs, ", "))
	}
	return command{}, 0, usagef("unknown command %q", args[0])
}

func (a *app) help(args []string) error {
	if len(args) == 0 {
		a.usage(a.stdout)
		return errHelp
	}
	cmd, _, err := lookup(args)
	if err != nil {
		return err
	}
	// Every command prints its own usage on --help.
	return cmd.run(context.Background(), a, []string{"--help"})
}

const globalHelp = `Global flags (before the command, or after it unless the command has a
flag of the same name, such as webhooks create --url):
  --url URL        local mode's address (default $WEBHOOKCTL_URL or ` + DefaultURL + `)
  --aws            talk to a deployed stack: requests are signed with SigV4
                   (service execute-api); credentials and region come from the
                   AWS SDK's default chain (env, ~/.aws, SSO, role)
  --stack NAME     with --aws (implies it): the CloudFormation stack (default
                   $WEBHOOKCTL_STACK); its outputs give the API URL (key ApiUrl)
                   and the event bus (key EventBusName, or BusName)
  --region R       AWS region (default: the SDK's, else the API URL's)
  --api-url URL    with --aws (implies it): the API URL instead of the ApiUrl output
  --bus-name NAME  with --aws: the event bus instead of the stack's output
  --json           print the API's JSON instead of tables
  --timeout D      per-request timeout (default 30s)
`

const exitHelp = `Exit codes:
  0  success
  1  API or runtime error (invalid input: the field is named; a failed test delivery)
  2  usage error (unknown command, bad flags or arguments)
  3  not found (404)
  4  conflict (409: e.g. --version no longer current)
  5  plan limit (403 plan_limit)
  6  unavailable: the API could not be reached or timed out, or answered 429/502/503/504

Errors go to stderr as "webhookctl: <field>: <message>".
`

func (a *app) usage(w io.Writer) {
	fmt.Fprintf(w, "webhookctl manages PhoneShield Webhooks through the management API.\n\n")
	fmt.Fprintf(w, "Usage:\n  webhookctl [global flags] <command> [flags] [args]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-24s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-24s %s\n", "help [command]", "this text, or a command's flags")
	fmt.Fprintf(w, "\n%s\n%s", globalHelp, exitHelp)
}

func (a *app) globalFlags(fs *flag.FlagSet) {
	// Defaults are the current values, so that flags given before the
	// command survive the command's own flag set. A command's own flag of
	// the same name wins (webhooks create --url is the endpoint's URL):
	// give the global one before the command.
	g := &a.g
	str := func(p *string, name, usage string) {
		if fs.Lookup(name) == nil {
			fs.StringVar(p, name, *p, usage)
		}
	}
	boolean := func(p *bool, name, usage string) {
		if fs.Lookup(name) == nil {
			fs.BoolVar(p, name, *p, usage)
		}
	}
	str(&g.URL, "url", "local mode's address")
	boolean(&g.AWS, "aws", "talk to a deployed stack (SigV4)")
	str(&g.Stack, "stack", "CloudFormation stack name")
	str(&g.Region, "region", "AWS region")
	str(&g.APIURL, "api-url", "API URL (with --aws)")
	str(&g.BusName, "bus-name", "event bus name (with --aws)")
	boolean(&g.JSON, "json", "print JSON")
	if fs.Lookup("timeout") == nil {
		fs.DurationVar(&g.Timeout, "timeout", g.Timeout, "per-request timeout")
	}
}

// flagSet starts a command's flag set.
func (a *app) flagSet(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses a command's flags — its own and the global ones, anywhere
// among its arguments — and checks the number of positional arguments
// (min..max; max < 0: any). --help prints the command's usage.
func (a *app) parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	cmd := a.command(fs.Name())
	usageLine := "webhookctl " + cmd.name
	if cmd.args != "" {
		usageLine += " " + cmd.args
	}
	var own []string
	fs.VisitAll(func(f *flag.Flag) { own = append(own, f.Name) })
	a.globalFlags(fs)

	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(a.stdout, "usage: %s\n\n%s\n", usageLine, cmd.summary)
				if len(own) > 0 {
					fmt.Fprintf(a.stdout, "\nFlags:\n")
					for _, name := range own {
						f := fs.Lookup(name)
						typ, help := flag.UnquoteUsage(f)
						line := "  --" + name
						if typ != "" {
							line += " " + typ
						}
						fmt.Fprintf(a.stdout, "%-28s %s", line, help)
						if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
							fmt.Fprintf(a.stdout, " (default %s)", f.DefValue)
						}
						fmt.Fprintln(a.stdout)
					}
				}
				fmt.Fprintf(a.stdout, "\n%s", globalHelp)
				return nil, errHelp
			}
			return nil, &usageError{msg: err.Error(), usage: usageLine}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// The flag package drops a "--" it stops at: everything after it
		// is positional (an id starting with "-").
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minArgs:
		want := strings.Fields(cmd.args)
		missing := "argument"
		if minArgs-1 < len(want) {
			missing = want[len(pos)]
		}
		return nil, &usageError{msg: fmt.Sprintf("%s: missing %s", cmd.name, missing), usage: usageLine}
	case maxArgs >= 0 && len(pos) > maxArgs:
		return nil, &usageError{msg: fmt.Sprintf("%s: unexpected argument %q", cmd.name, pos[maxArgs]), usage: usageLine}
	}
	if a.g.Timeout <= 0 {
		return nil, &usageError{msg: "--timeout: must be positive", usage: usageLine}
	}
	for _, p := range pos {
		if p == "" {
			return nil, &usageError{msg: cmd.name + ": empty argument", usage: usageLine}
		}
	}
	return pos, nil
}

func (a *app) command(name string) command {
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == name })
	if i < 0 {
		return command{name: name}
	}
	return commands()[i]
}

// api returns the management API client for the flags given.
// call makes one management API call (apiclient.Client.Do) with the
// client api returns.
func (a *app) call(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	c, err := a.api(ctx)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, method, path, body, out)
}

func (a *app) api(ctx context.Context) (*apiclient.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	hc := &http.Client{Timeout: a.g.Timeout}
	if !a.useAWS() {
		if err := checkURL("--url", a.g.URL); err != nil {
			return nil, err
		}
		a.client = &apiclient.Client{BaseURL: a.g.URL, HTTP: hc, UserAgent: "webhookctl"}
		return a.client, nil
	}
	apiURL := a.g.APIURL
	if apiURL == "" {
		var err error
		if apiURL, err = a.stackOutput(ctx, OutputAPIURL); err != nil {
			return nil, err
		}
	}
	if err := checkURL("--api-url", apiURL); err != nil {
		return nil, err
	}
	cfg, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	region := cfg.Region
	if region == "" {
		region = regionOfAPI(apiURL)
	}
	if region == "" {
		return nil, usagef("--region: required (the AWS SDK has no region and the API URL names none)")
	}
	a.client = &apiclient.Client{BaseURL: apiURL, HTTP: hc, UserAgent: "webhookctl",
		Signer: &apiclient.SigV4{Credentials: cfg.Credentials, Region: region}}
	return a.client, nil
}

// useAWS: --aws, or --stack or --api-url, which imply it.
func (a *app) useAWS() bool { return a.g.AWS || a.g.APIURL != "" || a.g.Stack != "" }

func checkURL(flagName, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("%s: must be an http:// or https:// URL, got %q", flagName, s)
	}
	return nil
}

// regionOfAPI reads the region from an API Gateway URL
// (https://<id>.execute-api.<region>.amazonaws.com).
func regionOfAPI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	for i, p := range parts {
		if p == "execute-api" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return ""
}
