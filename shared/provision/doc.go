// Package provision is the control plane of the per-endpoint queues: for
// each endpoint, an SQS queue named Config.Prefix + endpoint id (encrypted
// with SSE-SQS or a KMS key, with a policy denying every request not made
// over TLS, as the stack's own queues have, a redrive policy to the shared
// DLQ, a visibility timeout of six times the delivery function's timeout
// and 14 days' retention) and an event source mapping from it to the delivery
// Lambda (batches of 10, ReportBatchItemFailures, a maximum concurrency
// of 2 by default, so one slow endpoint cannot take every Lambda).
//
// Create and Delete handle one endpoint as it is created or deleted;
// both are idempotent. Reconcile makes the whole set match the list of
// endpoints: it creates what is missing, repairs drifted queue attributes
// and mapping settings (a queue policy that allows anything, or fails to
// deny requests without TLS, is replaced), and deletes the queues with the
// prefix (never the DLQ) and mappings whose endpoint is not listed. It
// reports what it did; a second run does nothing.
//
// The receive count at which SQS dead-letters a message
// (Config.MaxReceiveCount) is only a safety net for poison that crashes
// the function: attempts are counted in the message (delivery.Task), so
// throttling and redelivery never use them up.
//
// The Provisioner takes the SQS and Lambda clients as the narrow SQSAPI
// and LambdaAPI interfaces; its errors wrap the SDK's, and a bad Config or
// endpoint id is a webhook.KindInvalid error.
package provision
