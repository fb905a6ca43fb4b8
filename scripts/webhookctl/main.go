// Command webhookctl manages PhoneShield Webhooks: endpoints, delivery
// logs, the dead-letter queue, the event catalog and the plan, through the
// management API of local mode or of a deployed stack, and publishes
// events.
//
// Usage:
//
//	webhookctl [global flags] <command> [flags] [args]
//
//	webhooks create --url URL [--event-type T]... [flags]   create an endpoint; prints its secret once
//	webhooks list                                           list endpoints
//	webhooks get ID                                         show an endpoint
//	webhooks update ID [flags] [--version N]                change the fields given
//	webhooks delete ID                                      delete an endpoint
//	webhooks enable ID | webhooks disable ID                set its status
//	webhooks rotate-secret ID [--overlap-hours 24]          new secret; the old one keeps signing for the overlap
//	webhooks test ID [--event-type T] [--detail FILE] [--body]  send a test event now, show the exchange
//	webhooks deliveries ID [--status S] [--event-type T] [--since T] [--until T] [--limit N] [--cursor C] [--all]
//	webhooks delivery ID DELIVERY_ID [--body]               one delivery with its attempts
//	dlq list [--endpoint ID] [--event-type T] [--since T] [--until T] [--limit N] [--cursor C] [--all]
//	dlq show ID                                             one dead letter
//	dlq redrive (ID | --all | SELECTORS) [--limit N]        deliver dead letters again, calling until none remain
//	dlq purge (ID | (--all | SELECTORS) --yes) [--limit N]  delete dead letters for good
//	    SELECTORS: any of --endpoint ID, --event-type T, --since T, --until T
//	dlq counts                                              dead letters by endpoint and event type
//	event-types                                             the event catalog and what the plan allows
//	plan                                                    the deployment's plan and its use
//	events send TYPE [--detail FILE] [--event-id ID]        publish an event (sample detail by default)
//	filters test (--filter JSON|@FILE | --filter-text TEXT) [--event-type T] [--detail FILE | --delivery-id ID]
//	help [command]
//
// Global flags (before the command, or after it unless the command has a
// flag of the same name: webhooks create --url is the endpoint's URL):
//
//	--url URL        local mode's address (default $WEBHOOKCTL_URL or http://127.0.0.1:4000)
//	--aws            talk to a deployed stack: SigV4-signed requests (service execute-api),
//	                 credentials and region from the AWS SDK's default chain
//	--stack NAME     the stack (implies --aws; default $WEBHOOKCTL_STACK with --aws); its
//	                 CloudFormation outputs give the API URL (output key ApiUrl) and the
//	                 event bus (output key EventBusName, as infra/ names it; BusName also read)
//	--region R       AWS region (default: the SDK's, or the API URL's)
//	--api-url URL    the API URL, instead of the stack's ApiUrl output (implies --aws)
//	--bus-name NAME  with --aws: the event bus, instead of the stack's output
//	--json           print the API's JSON instead of tables
//	--timeout D      per-request timeout (default 30s)
//
// Exit codes, for scripts:
//
//	0  success
//	1  API or runtime error (invalid input: 400, naming the field; a failed test delivery)
//	2  usage error (unknown command, bad flags or arguments)
//	3  not found (404)
//	4  conflict (409: e.g. --version no longer current)
//	5  plan limit (403 plan_limit)
//	6  unavailable: the API could not be reached, timed out, or answered 429/502/503/504
//
// Errors go to stderr as "webhookctl: <field>: <message>" (or
// "webhookctl: <message>" when no field is at fault). Secrets are printed
// only by "webhooks create" and "webhooks rotate-secret" (with a warning
// on stderr to store them), never in errors; with --json other commands
// drop any "secret" member too.
//
// The API does bounded work per redrive or purge call; "dlq redrive" and
// "dlq purge" call it until nothing selected remains (or as many as were
// selected at the start went through, so letters that fail again don't
// keep it going), showing a progress bar on stderr when it is a terminal
// and a counter line per call otherwise. Dead letters the server skips
// (poison input, deleted endpoints) stay in the DLQ and are listed.
//
// "events send" publishes through EventBridge's PutEvents protocol: to
// local mode's port, or with --aws to the stack's bus with the AWS SDK.
//
// Examples:
//
//	webhookctl webhooks create --url https://example.com/hook --event-type 'call.*' --max-retries 3
//	webhookctl webhooks update whk_123 --version 4 --header 'X-Team: support'
//	webhookctl --json webhooks deliveries whk_123 --status dead_lettered --since 24h --all
//	webhookctl events send call.completed --detail call.json
//	webhookctl --stack phoneshield-webhooks dlq redrive --endpoint whk_123
//
// Run(ctx, args, stdin, stdout, stderr) is the whole program; main only
// passes it the process's arguments and streams.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
